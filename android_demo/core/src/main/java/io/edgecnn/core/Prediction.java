package io.edgecnn.core;

import java.util.Locale;

/** One of the top-k classes: output index, label and score (a probability for edgecnn models). */
public final class Prediction {
    public final int index;
    public final String label;
    public final float score;

    public Prediction(int index, String label, float score) {
        this.index = index;
        this.label = label;
        this.score = score;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s %.3f", label, score);
    }
}
