//! Plane geometry in image coordinates (x right, y down, pixel `(i, j)`
//! covering `[i, i+1) x [j, j+1)`): the polygons that objects are traced
//! into and that regions are given as.
//!
//! Orientation follows the numbers, not the screen: a ring is
//! counter-clockwise when its shoelace area is positive, as shapely and
//! GeoJSON's right-hand rule read the same coordinates. Exteriors are
//! counter-clockwise, holes clockwise.

pub mod geojson;
pub mod raster;
pub mod simplify;
pub mod validity;
pub mod wkt;

use serde::{Deserialize, Serialize};

/// A point `[x, y]`.
pub type Point = [f64; 2];

/// A closed ring: the last point repeats the first, as in GeoJSON.
pub type Ring = Vec<Point>;

/// A polygon with holes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    pub exterior: Ring,
    #[serde(default)]
    pub holes: Vec<Ring>,
}

/// An axis-aligned rectangle `[x, x + width) x [y, y + height)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// The shoelace area of a ring, closed or not: positive when counter-clockwise.
pub fn signed_area(ring: &[Point]) -> f64 {
    // Closed on the first point: a repeated first point adds nothing, an open ring gets its last edge.
    ring.iter().zip(ring.iter().cycle().skip(1)).map(|(a, b)| a[0] * b[1] - b[0] * a[1]).sum::<f64>() / 2.0
}

/// Length of a closed ring.
pub fn ring_length(ring: &[Point]) -> f64 {
    ring.windows(2).map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1])).sum()
}

/// Whether `p` lies inside the closed ring (even-odd rule); points on the
/// boundary may go either way.
pub fn ring_contains(ring: &[Point], p: Point) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let ([x0, y0], [x1, y1]) = (w[0], w[1]);
        if (y0 > p[1]) != (y1 > p[1]) && p[0] < x0 + (p[1] - y0) / (y1 - y0) * (x1 - x0) {
            inside = !inside;
        }
    }
    inside
}

impl Polygon {
    /// Area inside the exterior and outside the holes.
    pub fn area(&self) -> f64 {
        signed_area(&self.exterior).abs() - self.holes.iter().map(|h| signed_area(h).abs()).sum::<f64>()
    }

    /// Length of every ring.
    pub fn perimeter(&self) -> f64 {
        ring_length(&self.exterior) + self.holes.iter().map(|h| ring_length(h)).sum::<f64>()
    }

    pub fn contains(&self, p: Point) -> bool {
        ring_contains(&self.exterior, p) && !self.holes.iter().any(|h| ring_contains(h, p))
    }

    /// The smallest rectangle holding the exterior.
    pub fn bounds(&self) -> Rect {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &[x, y] in &self.exterior {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        Rect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
    }

    /// The polygon with its rings closed, its exterior counter-clockwise and
    /// its holes clockwise, as [`validity::problem`] wants them: callers'
    /// polygons (QuPath's, shapely's) may run either way.
    pub fn oriented(mut self) -> Polygon {
        for ring in std::iter::once(&mut self.exterior).chain(&mut self.holes) {
            if let (Some(&first), Some(&last)) = (ring.first(), ring.last()) {
                if first != last {
                    ring.push(first);
                }
            }
        }
        if signed_area(&self.exterior) < 0.0 {
            self.exterior.reverse();
        }
        for hole in &mut self.holes {
            if signed_area(hole) > 0.0 {
                hole.reverse();
            }
        }
        self
    }

    /// Every coordinate multiplied by `factor` (from a downsampled grid to full resolution).
    pub fn scaled(mut self, factor: f64) -> Polygon {
        for p in std::iter::once(&mut self.exterior).chain(&mut self.holes).flatten() {
            *p = [p[0] * factor, p[1] * factor];
        }
        self
    }

    /// Well-Known Text: `POLYGON ((x y, ...), (hole), ...)`.
    pub fn to_wkt(&self) -> String {
        let ring = |r: &Ring| format!("({})", r.iter().map(|p| format!("{} {}", p[0], p[1])).collect::<Vec<_>>().join(", "));
        let rings: Vec<String> = std::iter::once(&self.exterior).chain(&self.holes).map(ring).collect();
        format!("POLYGON ({})", rings.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, side: f64) -> Ring {
        vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    }

    #[test]
    fn areas_lengths_and_containment_of_a_square_with_a_hole() {
        let mut hole = square(1.0, 1.0, 1.0);
        hole.reverse();
        let p = Polygon { exterior: square(0.0, 0.0, 3.0), holes: vec![hole] };
        assert_eq!(signed_area(&p.exterior), 9.0);
        assert_eq!(signed_area(&p.holes[0]), -1.0);
        assert_eq!((p.area(), p.perimeter()), (8.0, 16.0));
        assert!(p.contains([0.5, 0.5]) && !p.contains([1.5, 1.5]) && !p.contains([3.5, 0.5]));
        assert_eq!(p.bounds(), Rect { x: 0.0, y: 0.0, width: 3.0, height: 3.0 });
        assert_eq!(p.clone().scaled(2.0).area(), 32.0);
        assert!(p.to_wkt().starts_with("POLYGON ((0 0, 3 0, 3 3, 0 3, 0 0), (1 1, 1 2"), "{}", p.to_wkt());
    }
}
