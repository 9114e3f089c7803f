package org.dlclassifier;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.dlclassifier.internal.ApplyBridge;

/** The caller's {@link ObjectMeasurement}s as the apply bridge calls them. */
final class MeasurementHooks implements ApplyBridge.Measurements {
    private final List<ObjectMeasurement> measurements;
    private final List<List<String>> names = new ArrayList<>();

    MeasurementHooks(List<ObjectMeasurement> measurements) {
        this.measurements = measurements;
        for (ObjectMeasurement m : measurements) {
            names.add(new ArrayList<>(m.names()));
        }
    }

    @Override
    public int count() {
        return measurements.size();
    }

    @Override
    public String[] names(int which) {
        return names.get(which).toArray(new String[0]);
    }

    @Override
    public double[] measure(int which, String className, int x, int y, int w, int h, int channels, int points, ByteBuffer data) {
        return measurements.get(which).measure(new ObjectPixels(className, x, y, w, h, channels, points, data));
    }
}
