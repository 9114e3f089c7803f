//! Polygons from Well-Known Text: `POLYGON ((x y, ...), (hole), ...)` and
//! `MULTIPOLYGON (((...)), ((...)))`, as QuPath and shapely write them.

use super::{Point, Polygon, Ring};
use crate::{Error, Result};

/// The polygons of a `POLYGON` or `MULTIPOLYGON`; rings are closed if the
/// text leaves them open.
pub fn parse(text: &str) -> Result<Vec<Polygon>> {
    let mut p = Parser { text, pos: 0 };
    let kind = p.word()?.to_ascii_uppercase();
    let polygons = match kind.as_str() {
        "POLYGON" => vec![p.polygon()?],
        "MULTIPOLYGON" => p.list(|p| p.polygon())?,
        other => return Err(p.error(&format!("expected POLYGON or MULTIPOLYGON, found '{other}'"))),
    };
    p.skip_space();
    if p.pos < text.len() {
        return Err(p.error("unexpected text after the geometry"));
    }
    Ok(polygons)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> Error {
        Error::config(format!("WKT at character {}: {what}", self.pos))
    }

    fn skip_space(&mut self) {
        self.pos += self.text[self.pos..].len() - self.text[self.pos..].trim_start().len();
    }

    fn word(&mut self) -> Result<&str> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected a geometry type"));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `( item, item, ... )`; `EMPTY` is refused, since a region must cover something.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        if !self.eat('(') {
            self.skip_space();
            let empty = self.text[self.pos..].get(..5).is_some_and(|w| w.eq_ignore_ascii_case("empty"));
            return Err(self.error(if empty { "the geometry is EMPTY" } else { "expected '('" }));
        }
        let mut items = vec![item(self)?];
        while self.eat(',') {
            items.push(item(self)?);
        }
        if !self.eat(')') {
            return Err(self.error("expected ',' or ')'"));
        }
        Ok(items)
    }

    fn polygon(&mut self) -> Result<Polygon> {
        let mut rings = self.list(|p| p.ring())?.into_iter();
        let exterior = rings.next().expect("a list has an item");
        Ok(Polygon { exterior, holes: rings.collect() })
    }

    fn ring(&mut self) -> Result<Ring> {
        let mut ring = self.list(|p| p.point())?;
        if ring.first() != ring.last() {
            ring.push(ring[0]);
        }
        Ok(ring)
    }

    fn point(&mut self) -> Result<Point> {
        let x = self.number()?;
        let y = self.number()?;
        Ok([x, y])
    }

    fn number(&mut self) -> Result<f64> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(rest.len());
        let value = rest[..len].parse::<f64>().map_err(|_| self.error("expected a number"))?;
        self.pos += len;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_and_multipolygons_parse_with_their_holes() {
        let p = parse("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 4, 4 4, 4 2))").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].exterior.len(), 5);
        assert_eq!(p[0].holes[0].len(), 5, "an open ring is closed");
        assert_eq!(p[0].area(), 96.0);
        let m = parse("multipolygon(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].exterior[0], [5.0, 5.0]);
        assert_eq!(parse(&p[0].to_wkt()).unwrap(), p);
    }

    #[test]
    fn malformed_text_names_the_place() {
        let e = |t: &str| parse(t).unwrap_err().to_string();
        assert!(e("POINT (1 2)").contains("expected POLYGON or MULTIPOLYGON, found 'POINT'"));
        assert!(e("POLYGON EMPTY").contains("the geometry is EMPTY"));
        assert!(e("POLYGON ((0 0, 1 x))").contains("character 17: expected a number"), "{}", e("POLYGON ((0 0, 1 x))"));
        assert!(e("POLYGON ((0 0, 1 1, 0 1)").contains("expected ',' or ')'"));
        assert!(e("POLYGON ((0 0, 1 1, 0 1)) trailing").contains("unexpected text"));
    }
}
