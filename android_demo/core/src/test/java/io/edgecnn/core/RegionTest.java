package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RegionTest {
    @Test
    void largestCentredRegionOfAnAspect() {
        assertEquals(new Region(80, 0, 480, 480), Region.centered(640, 480, 1, 1));
        assertEquals(new Region(0, 80, 480, 480), Region.centered(480, 640, 1, 1));
        assertEquals(new Region(1, 0, 2, 2), Region.centered(5, 2, 1, 1)); // (5-2)/2 rounds down
        assertEquals(new Region(12, 0, 75, 100), Region.centered(100, 100, 3, 4));
        assertEquals(new Region(0, 25, 100, 50), Region.centered(100, 100, 2, 1));
        assertEquals(new Region(0, 0, 7, 3), Region.centered(7, 3, 7, 3));
        assertThrows(IllegalArgumentException.class, () -> Region.centered(0, 3, 1, 1));
    }

    @Test
    void fitsInsideAnImage() {
        assertTrue(new Region(0, 0, 4, 3).fitsIn(4, 3));
        assertFalse(new Region(1, 0, 4, 3).fitsIn(4, 3));
        assertFalse(new Region(-1, 0, 1, 1).fitsIn(4, 3));
        assertFalse(new Region(0, 0, 0, 1).fitsIn(4, 3));
    }
}
