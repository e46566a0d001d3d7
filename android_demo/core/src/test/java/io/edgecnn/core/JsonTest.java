package io.edgecnn.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {
    @Test
    void readsEveryKindOfValue() throws CoreException {
        Map<String, Object> m = Json.parseObject(
                "{\"a\": 1, \"b\": -2.5e-3, \"c\": \"x\\u00e9\\n\\\"\", \"d\": [true, false, null], \"e\": {}, \"f\": []}");
        assertEquals(1.0, m.get("a"));
        assertEquals(-0.0025, m.get("b"));
        assertEquals("x\u00e9\n\"", m.get("c"));
        assertEquals(List.of(true, false, Json.NULL), m.get("d"));
        assertEquals(Map.of(), m.get("e"));
        assertEquals(List.of(), m.get("f"));
        assertEquals(List.of("a", "b", "c", "d", "e", "f"), List.copyOf(m.keySet()), "key order is kept");
    }

    @Test
    void numbersRoundTripLikePython() throws CoreException {
        // json.dumps(1/255) and the float32 scale of an int8 model, as Python writes them.
        assertEquals(1.0 / 255.0, (Double) Json.parse("0.00392156862745098"));
        assertEquals(0.003921568859368563, (Double) Json.parse("0.003921568859368563"));
        assertEquals((float) 0.003921568859368563, (float) (double) (Double) Json.parse("0.003921568859368563"));
    }

    @Test
    void toleratesAByteOrderMark() throws CoreException {
        assertEquals(Map.of("a", 2.0), Json.parse("\uFEFF{\"a\": 2}"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"a\": 1,}", "[1,]", "{\"a\" 1}", "{'a': 1}", "{\"a\": 01}", "{\"a\": 1.}",
        "{\"a\": NaN}", "{\"a\": 1} x", "{\"a\": 1, \"a\": 2}", "// c\n{}", "{\"a\": tru}", "\"\\x\"", "[1 2]",
        "{\"a\": \"\t\"}", "-", "1e", "{\"a\": \"\\u12\"}"})
    void rejectsInvalidJson(String text) {
        CoreException e = assertThrows(CoreException.class, () -> Json.parse(text));
        assertTrue(e.getMessage().startsWith("JSON: "), e.getMessage());
    }

    @Test
    void saysWhere() {
        CoreException e = assertThrows(CoreException.class, () -> Json.parse("{\n  \"a\": [1, 2,,]\n}"));
        assertTrue(e.getMessage().contains("line 2, column 14"), e.getMessage());
    }

    @Test
    void limitsNesting() throws CoreException {
        String deep = "[".repeat(100) + "]".repeat(100);
        assertThrows(CoreException.class, () -> Json.parse(deep));
        StringBuilder ok = new StringBuilder();
        ok.append("[".repeat(30)).append("]".repeat(30));
        assertTrue(Json.parse(ok.toString()) instanceof List);
    }

    @Test
    void topLevelMustBeAnObjectWhenAsked() throws CoreException {
        assertThrows(CoreException.class, () -> Json.parseObject("[1]"));
        assertSame(Json.NULL, Json.parse("null"));
    }
}
