package org.dlclassifier;

import java.util.Objects;

/** One output class of a model: its index in class maps, its name and its display colour. */
public final class ClassInfo {
    private int index;
    private String name;
    private String color;

    /** Filled from the engine's JSON by {@link org.dlclassifier.internal.JsonMapper}. */
    private ClassInfo() {
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
