"""OpenCV's view of the objects of a class map, for `make bench`: for each
class but 0, findContours (outer contours and holes, CHAIN_APPROX_SIMPLE) on
the whole map at once and the moments (area, centroid) and perimeter
(arcLength) of every contour. OpenCV sees the whole map in one pass, so it
never joins objects across tile bands; the engine traces band by band.
Same map as `dlclassifier bench-objects`; prints one JSON line."""
import argparse, json, time
import cv2
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--class-map", required=True)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--runs", type=int, default=3)
a = p.parse_args()
labels = cv2.imread(a.class_map, cv2.IMREAD_UNCHANGED)
cv2.setNumThreads(1)


def trace():
    objects = 0
    for c in range(1, int(labels.max()) + 1):
        mask = (labels == c).astype(np.uint8)
        contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        for i, contour in enumerate(contours):
            m = cv2.moments(contour)
            cv2.arcLength(contour, True)
            if hierarchy[0][i][3] < 0:
                objects += 1
    return objects


for _ in range(a.warmup):
    trace()
start = time.perf_counter()
for _ in range(a.runs):
    objects = trace()
seconds = (time.perf_counter() - start) / a.runs
mpx = labels.size / 1e6
print(json.dumps({"megapixels": mpx, "objects": objects, "seconds": seconds, "mpx_per_s": mpx / seconds, "opencv": cv2.__version__}))
