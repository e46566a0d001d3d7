package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class DecodeBudgetTest {
    @Test
    void smallestPowerOfTwoThatFits() {
        // 4000x3000 at 7 bytes a pixel is 84 MB: halved (2000x1500, 21 MB) it fits in 64 MiB.
        assertEquals(2, DecodeBudget.sampleSize(4000, 3000, 64L << 20, 7));
        assertEquals(1, DecodeBudget.sampleSize(4000, 3000, 100_000_000L, 7));
        // 12000x9000: 756 MB, 189 MB at 2, 47 MB at 4.
        assertEquals(4, DecodeBudget.sampleSize(12000, 9000, 64L << 20, 7));
        // Sides round up: 3x3 at 2 decodes to 2x2 = 28 bytes.
        assertEquals(2, DecodeBudget.sampleSize(3, 3, 28, 7));
        assertEquals(4, DecodeBudget.sampleSize(3, 3, 27, 7)); // never beyond the image's own size
    }
}
