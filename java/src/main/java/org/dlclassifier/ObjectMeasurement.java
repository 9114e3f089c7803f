package org.dlclassifier;

import java.util.List;

/**
 * A caller's own per-object measurement, as MultiCellPose's analyzer
 * plugins add them: fixed names, and one value per name for each traced
 * object, computed from its outline and pixels. Registered with
 * {@link ObjectOptions.Builder#measurement(ObjectMeasurement)}; its values
 * join the built-in ones in {@code objects.geojson}, {@code objects.csv} and
 * {@link DetectedObject#measurements()}. Called on the thread that runs
 * {@link Predictor#apply(RegionReader, java.nio.file.Path, ApplyOptions)}, once
 * per object as each is finished; an exception it throws ends the run and
 * reaches the caller unchanged.
 */
public interface ObjectMeasurement {
    /** @return the measurement names, asked once per run; none may repeat a built-in name */
    List<String> names();

    /**
     * @param object the object's class, outline and pixels
     * @return one value per name, in the order of {@link #names()}
     */
    double[] measure(ObjectPixels object);
}
