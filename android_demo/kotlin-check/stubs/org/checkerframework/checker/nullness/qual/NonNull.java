package org.checkerframework.checker.nullness.qual;

import static java.lang.annotation.ElementType.*;

import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The annotation LiteRT's Java API uses. The real one (checker-qual) is a TYPE_USE annotation; Kotlin 1.3
 * reads nullability only from declaration annotations in class and source files, so it is declared on the
 * same places here, with the same meaning.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({METHOD, PARAMETER, FIELD, LOCAL_VARIABLE})
public @interface NonNull {}
