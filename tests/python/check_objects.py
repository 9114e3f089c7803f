"""Checks traced objects against shapely and scikit-image.

usage: check_objects.py OBJECTS.geojson OBJECTS.csv CLASS_MAP.png IMAGE CHANNELS

The class map holds class indices (255 counts as class 0); class 0 is not
traced. Every polygon must be valid, with counter-clockwise exteriors and
clockwise holes; rasterizing the polygons (pixel centres) must give the
class map back; and each object must be one 4-connected region of
scikit-image's regionprops with the same area, area with holes filled
(its exterior), centroid, mean intensities and perimeter
(the engine computes regionprops' own estimator, so they agree to rounding).
Prints one JSON line of what it measured; exits 1 on the first failure.
"""

import csv
import json
import sys

import numpy as np
import shapely
import tifffile
from PIL import Image
from skimage.measure import label, regionprops



def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def filled_area(polygon):
    """The area inside the exterior but for holes that reach it through
    corners: regionprops joins background pixels across corners, so such a
    hole is open; the polygon must keep it a hole to stay valid."""
    open_rings, holes = [polygon.exterior], list(polygon.interiors)
    grew = True
    while grew:
        grew = False
        for h in list(holes):
            if any(h.intersects(r) for r in open_rings):
                open_rings.append(h)
                holes.remove(h)
                grew = True
    return shapely.Polygon(polygon.exterior).area - sum(shapely.Polygon(r).area for r in open_rings[1:])


def main(geojson_path, csv_path, map_path, image_path, channels):
    class_map = np.array(Image.open(map_path))
    class_map[class_map == 255] = 0
    read = tifffile.imread if image_path.endswith((".tif", ".tiff")) else lambda p: np.array(Image.open(p))
    image = read(image_path).astype(np.float64)
    if image.ndim == 2:
        image = image[None]
    elif image.shape[-1] == int(channels) and image.shape[0] != int(channels):
        image = np.moveaxis(image, -1, 0)
    h, w = class_map.shape
    with open(geojson_path) as f:
        collection = json.load(f)
    if collection.get("type") != "FeatureCollection":
        fail("not a FeatureCollection")
    features = collection["features"]
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(features):
        fail(f"{len(rows)} table rows for {len(features)} features")

    by_class = {}
    for f in features:
        p = f["properties"]
        if p["objectType"] not in ("detection", "annotation"):
            fail(f"objectType {p['objectType']}")
        if set(p["classification"]) != {"name", "color"} or len(p["classification"]["color"]) != 3:
            fail(f"classification {p['classification']}")
        geom = shapely.geometry.shape(f["geometry"])
        if not geom.is_valid:
            fail(f"invalid polygon: {shapely.is_valid_reason(geom)}")
        if not geom.exterior.is_ccw or any(r.is_ccw for r in geom.interiors):
            fail("exterior not counter-clockwise or a hole not clockwise")
        by_class.setdefault(p["classification"]["name"], []).append((geom, p["measurements"]))

    ys, xs = np.mgrid[0:h, 0:w]
    cx, cy = xs.ravel() + 0.5, ys.ravel() + 0.5
    raster = np.zeros((h, w), np.int32)
    report = {"features": len(features), "classes": {}}
    perimeter_errors = []
    for name, objects in by_class.items():
        union = shapely.union_all([g for g, _ in objects])
        inside = shapely.contains_xy(union, cx, cy).reshape(h, w)
        if not inside.any():
            fail(f"class {name}: polygons cover no pixel centre")
        # The class index is the one the polygons cover.
        c = int(np.bincount(class_map[inside]).argmax())
        mask = class_map == c
        pixels = int(mask.sum())
        if abs(union.area - pixels) > 0.005 * pixels:
            fail(f"class {name}: union area {union.area} against {pixels} pixels")
        mismatch = int((inside != mask).sum())
        if mismatch > 0.005 * pixels:
            fail(f"class {name}: {mismatch} pixels differ when rasterized")
        raster[inside] = c

        regions = regionprops(label(mask, connectivity=1), intensity_image=np.moveaxis(image, 0, -1))
        tree = shapely.STRtree([g for g, _ in objects])
        if len(regions) != len(objects):
            fail(f"class {name}: {len(objects)} objects but {len(regions)} 4-connected regions")
        holes = sum(len(g.interiors) for g, _ in objects)
        report["classes"][name] = {"objects": len(objects), "pixels": pixels, "holes": holes, "union_area": union.area}
        for region in regions:
            y, x = region.coords[0]
            hits = [objects[i] for i in tree.query(shapely.Point(x + 0.5, y + 0.5), predicate="within")]
            if len(hits) != 1:
                fail(f"class {name}: pixel ({x}, {y}) lies in {len(hits)} objects")
            g, m = hits[0]
            if m["Area px^2"] != region.area:
                fail(f"class {name}: area {m['Area px^2']} against regionprops {region.area}")
            # Filled, the object is regionprops' filled region (which fills each
            # region alone, so pixels of other objects never close a hole).
            if filled_area(g) != region.area_filled:
                fail(f"class {name}: filled area {filled_area(g)} against regionprops {region.area_filled}")
            if abs(m["Centroid X px"] - (region.centroid[1] + 0.5)) > 1e-6 or abs(m["Centroid Y px"] - (region.centroid[0] + 0.5)) > 1e-6:
                fail(f"class {name}: centroid differs from regionprops at ({x}, {y})")
            means = [k for k in m if k.endswith(": Mean")]
            if len(means) != image.shape[0]:
                fail(f"{len(means)} channel means for {image.shape[0]} channels")
            for ch, key in enumerate(means):
                ours = m[key]
                theirs = float(np.atleast_1d(region.intensity_mean)[ch])
                if abs(ours - theirs) > 1e-4 * max(1.0, abs(theirs)):
                    fail(f"class {name}: channel {ch + 1} mean {ours} against regionprops {theirs}")
            error = abs(m["Perimeter px"] - region.perimeter) / max(1.0, region.perimeter)
            perimeter_errors.append(error)
            if error > 1e-9:
                fail(f"class {name}: perimeter {m['Perimeter px']} against regionprops {region.perimeter} (area {region.area})")
    differ = int((raster != class_map).sum())
    if differ > 0.005 * h * w:
        fail(f"rasterized polygons give back the class map but for {differ} pixels")
    report["raster_differences"] = differ
    if perimeter_errors:
        report["perimeter_error_max"] = max(perimeter_errors)
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
