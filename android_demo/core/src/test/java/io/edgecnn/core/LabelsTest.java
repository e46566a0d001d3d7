package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class LabelsTest {
    @Test
    void oneLabelALineLikeEdgecnn() throws CoreException {
        assertEquals(List.of("T-shirt/top", "Ankle boot", "c"),
                Labels.parse("\uFEFF  T-shirt/top \r\n\nAnkle boot\rc\u00a0\n\n"));
    }

    @Test
    void emptyIsAnError() {
        assertEquals("labels.txt: no labels in file", assertThrows(CoreException.class, () -> Labels.parse(" \n\n")).getMessage());
    }
}
