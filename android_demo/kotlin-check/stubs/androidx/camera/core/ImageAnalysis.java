package androidx.camera.core;

import androidx.annotation.NonNull;

public final class ImageAnalysis extends UseCase {
    public static final int STRATEGY_KEEP_ONLY_LATEST = 0;
    public static final int OUTPUT_IMAGE_FORMAT_RGBA_8888 = 2;

    public interface Analyzer {
        void analyze(@NonNull ImageProxy image);
    }

    public void setAnalyzer(@NonNull java.util.concurrent.Executor executor, @NonNull Analyzer analyzer) {}
    public void clearAnalyzer() {}

    public static final class Builder {
        @NonNull public Builder setBackpressureStrategy(int strategy) { return this; }
        @NonNull public Builder setOutputImageFormat(int outputImageFormat) { return this; }
        @NonNull public ImageAnalysis build() { return null; }
    }
}
