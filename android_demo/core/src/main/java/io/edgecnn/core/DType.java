package io.edgecnn.core;

/** The tensor element types the demo handles (those edgecnn models use for input and output). */
public enum DType {
    FLOAT32("float32", 4, 0, 0),
    INT8("int8", 1, -128, 127),
    UINT8("uint8", 1, 0, 255);

    /** The name in preprocess.json and in NumPy. */
    public final String jsonName;
    public final int bytes;
    /** Range of the integer types (unused for float32). */
    public final int min;
    public final int max;

    DType(String jsonName, int bytes, int min, int max) {
        this.jsonName = jsonName;
        this.bytes = bytes;
        this.min = min;
        this.max = max;
    }

    /** The type for a NumPy/preprocess.json name, or null. */
    public static DType fromName(String name) {
        for (DType t : values()) {
            if (t.jsonName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    public boolean isQuantized() {
        return this != FLOAT32;
    }
}
