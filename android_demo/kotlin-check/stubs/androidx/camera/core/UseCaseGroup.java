package androidx.camera.core;

import androidx.annotation.NonNull;

public final class UseCaseGroup {
    public static final class Builder {
        @NonNull public Builder setViewPort(@NonNull ViewPort viewPort) { return this; }
        @NonNull public Builder addUseCase(@NonNull UseCase useCase) { return this; }
        @NonNull public UseCaseGroup build() { return null; }
    }
}
