//! Scanline rasterization of polygons into row masks: a pixel is in when its
//! centre is inside (nonzero winding, exteriors counted +1 and holes -1
//! whatever their stored orientation, so overlapping polygons unite).
//! Rows stream one at a time; memory is the edge list plus one row.

use super::{signed_area, Polygon};

struct Edge {
    y0: f64,
    y1: f64,
    x0: f64,
    slope: f64,
    winding: i32,
}

/// Streams the masks of rows `origin_y..origin_y + height` over columns
/// `origin_x..origin_x + width`.
pub struct Rasterizer {
    edges: Vec<Edge>,
    origin_x: i64,
    width: usize,
    next_row: i64,
    end_row: i64,
    crossings: Vec<(f64, i32)>,
}

impl Rasterizer {
    pub fn new(polygons: &[Polygon], origin_x: i64, origin_y: i64, width: usize, height: usize) -> Self {
        let mut edges = Vec::new();
        for poly in polygons {
            let rings = std::iter::once((&poly.exterior, 1)).chain(poly.holes.iter().map(|h| (h, -1)));
            for (ring, want) in rings {
                let area = signed_area(ring);
                if area == 0.0 {
                    continue;
                }
                let sign = if area > 0.0 { want } else { -want };
                // Rings close on their first point whether or not they repeat it.
                for (i, &a) in ring.iter().enumerate() {
                    let b = ring[(i + 1) % ring.len()];
                    if a[1] == b[1] {
                        continue;
                    }
                    let (lo, hi, dir) = if a[1] < b[1] { (a, b, sign) } else { (b, a, -sign) };
                    edges.push(Edge { y0: lo[1], y1: hi[1], x0: lo[0], slope: (hi[0] - lo[0]) / (hi[1] - lo[1]), winding: dir });
                }
            }
        }
        Rasterizer { edges, origin_x, width, next_row: origin_y, end_row: origin_y + height as i64, crossings: Vec::new() }
    }

    /// Fills `row` (length `width`) with the next row's mask; false when done.
    pub fn next_row(&mut self, row: &mut [bool]) -> bool {
        if self.next_row >= self.end_row {
            return false;
        }
        row.fill(false);
        let yc = self.next_row as f64 + 0.5;
        self.next_row += 1;
        self.crossings.clear();
        for e in &self.edges {
            // Half-open in y so a vertex on the scanline counts once.
            if yc >= e.y0 && yc < e.y1 {
                self.crossings.push((e.x0 + (yc - e.y0) * e.slope, e.winding));
            }
        }
        self.crossings.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut winding = 0;
        for i in 0..self.crossings.len() {
            winding += self.crossings[i].1;
            if winding != 0 && i + 1 < self.crossings.len() {
                // Pixels whose centre x + 0.5 lies in [start, end).
                let start = (self.crossings[i].0 - 0.5).ceil() as i64 - self.origin_x;
                let end = (self.crossings[i + 1].0 - 0.5).ceil() as i64 - self.origin_x;
                let (s, e) = (start.clamp(0, self.width as i64) as usize, end.clamp(0, self.width as i64) as usize);
                if s < e {
                    row[s..e].fill(true);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pts: &[(f64, f64)]) -> Vec<[f64; 2]> {
        let mut r: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| [x, y]).collect();
        r.push(r[0]);
        r
    }

    #[test]
    fn matches_point_in_polygon_on_random_polygons() {
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..50 {
            // Star-shaped polygons around a centre: simple by construction.
            let n = 3 + (rnd() * 12.0) as usize;
            let pts: Vec<(f64, f64)> = (0..n)
                .map(|k| {
                    let a = k as f64 / n as f64 * std::f64::consts::TAU;
                    let r = 3.0 + rnd() * 12.0;
                    (16.0 + r * a.cos(), 16.0 + r * a.sin())
                })
                .collect();
            let hole = ring(&[(15.3, 15.3), (15.3, 17.7), (17.7, 17.7), (17.7, 15.3)]);
            let poly = Polygon { exterior: ring(&pts), holes: vec![hole] };
            let mut r = Rasterizer::new(std::slice::from_ref(&poly), -2, -1, 36, 34);
            let mut row = vec![false; 36];
            let mut y = -1;
            while r.next_row(&mut row) {
                for (i, &m) in row.iter().enumerate() {
                    let p = [i as f64 - 2.0 + 0.5, y as f64 + 0.5];
                    assert_eq!(m, poly.contains(p), "pixel ({}, {})", i as i64 - 2, y);
                }
                y += 1;
            }
            assert_eq!(y, 33);
        }
    }

    #[test]
    fn an_open_ring_is_closed_on_its_first_point() {
        let closed = Polygon { exterior: ring(&[(1.0, 1.0), (7.0, 2.0), (4.0, 6.0)]), holes: vec![] };
        let mut open = closed.clone();
        open.exterior.pop();
        let rows = |p: &Polygon| {
            let mut r = Rasterizer::new(std::slice::from_ref(p), 0, 0, 8, 8);
            let mut row = vec![false; 8];
            let mut all = Vec::new();
            while r.next_row(&mut row) {
                all.extend_from_slice(&row);
            }
            all
        };
        assert_eq!(rows(&open), rows(&closed));
        assert!(rows(&open).iter().any(|&v| v));
    }
}
