package org.dlclassifier.internal;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The JSON member a field of a value class is read from by {@link JsonMapper},
 * where it is not the field's name in snake case.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
public @interface JsonName {
    /** @return the member's name in the engine's JSON */
    String value();
}
