package org.dlclassifier;

import java.util.Map;
import java.util.Objects;

/** One output class of a model: its index in class maps, its name and its display colour. */
public final class ClassInfo {
    private final int index;
    private final String name;
    private final String color;

    ClassInfo(Map<String, Object> json) {
        index = JsonFields.integer(json, "index");
        name = JsonFields.string(json, "name");
        color = JsonFields.string(json, "color");
    }

    /** @return the value of this class in class maps */
    public int index() {
        return index;
    }

    /** @return the class name */
    public String name() {
        return name;
    }

    /** @return the colour as {@code #RRGGBB} */
    public String color() {
        return color;
    }

    /** @return the colour as {@code 0xRRGGBB} */
    public int rgb() {
        return Integer.parseInt(color.substring(1), 16);
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof ClassInfo)) {
            return false;
        }
        ClassInfo o = (ClassInfo) other;
        return index == o.index && name.equals(o.name) && color.equals(o.color);
    }

    @Override
    public int hashCode() {
        return Objects.hash(index, name, color);
    }

    @Override
    public String toString() {
        return index + " " + name + " " + color;
    }
}
