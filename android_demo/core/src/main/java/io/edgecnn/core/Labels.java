package io.edgecnn.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** labels.txt: one class name a line, in output order; blank lines and surrounding spaces ignored (as edgecnn). */
public final class Labels {
    private Labels() {
    }

    public static List<String> parse(String text) throws CoreException {
        if (text == null) {
            throw new CoreException("labels.txt: no text");
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        List<String> labels = new ArrayList<>();
        // Python's str.splitlines() also splits on \r alone; \r\n is one break.
        for (String line : text.split("\r\n|\r|\n", -1)) {
            String label = strip(line);
            if (!label.isEmpty()) {
                labels.add(label);
            }
        }
        if (labels.isEmpty()) {
            throw new CoreException("labels.txt: no labels in file");
        }
        return Collections.unmodifiableList(labels);
    }

    /**
     * Python's str.strip(): Unicode white space at both ends. (String.strip() needs Android API 33; the app
     * runs from API 24, so core uses only Java 8 library calls.)
     */
    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    private static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }
}
