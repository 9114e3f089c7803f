//! Channels matched by name: a model trained on [DAPI, CD3] reads an image
//! whose channels are [CD3, CK, DAPI] as channels 2 and 0.

use super::RegionReader;
use crate::{Error, Result};
use ndarray::{Array3, Axis};

/// A reader that gives another reader's channels names it cannot tell
/// itself (such as an image file read whole).
pub struct Named<'a> {
    pub reader: &'a dyn RegionReader,
    pub names: Vec<String>,
}

impl<'a> Named<'a> {
    /// Fails unless there is one name per channel of `reader`.
    pub fn new(reader: &'a dyn RegionReader, names: Vec<String>) -> Result<Named<'a>> {
        if names.len() != reader.channels() {
            return Err(Error::config(format!("{} channel names given for an image of {} channels", names.len(), reader.channels())));
        }
        Ok(Named { reader, names })
    }
}

impl RegionReader for Named<'_> {
    fn width(&self) -> usize {
        self.reader.width()
    }

    fn height(&self) -> usize {
        self.reader.height()
    }

    fn channels(&self) -> usize {
        self.reader.channels()
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        self.reader.read(x, y, w, h)
    }

    fn channel_names(&self) -> Option<Vec<String>> {
        Some(self.names.clone())
    }
}

/// A reader that yields the chosen channels of another, in the chosen order.
pub struct Picked<'a> {
    reader: &'a dyn RegionReader,
    channels: Vec<usize>,
    names: Vec<String>,
}

impl<'a> Picked<'a> {
    /// The channels of `reader` that the `wanted` names pick, when the
    /// reader names its channels and `wanted` is not empty; `None` when
    /// either side has no names (the caller then relies on the channel
    /// count). Training names unnamed channels "Channel 1", "Channel 2", ...;
    /// `wanted` names that are exactly those count as no names. A name matches exactly if any channel has it exactly, else
    /// ignoring case; a name that matches nothing, or matches several
    /// channels equally well, is an error listing the image's channels.
    pub fn by_name(reader: &'a dyn RegionReader, wanted: &[String]) -> Result<Option<Picked<'a>>> {
        let placeholders = wanted.iter().enumerate().all(|(i, name)| *name == format!("Channel {}", i + 1));
        let Some(available) = reader.channel_names().filter(|_| !placeholders) else {
            return Ok(None);
        };
        let mut channels = Vec::with_capacity(wanted.len());
        let (mut missing, mut ambiguous) = (Vec::new(), Vec::new());
        for name in wanted {
            let exact: Vec<usize> = (0..available.len()).filter(|&i| available[i] == *name).collect();
            let found = if exact.is_empty() {
                (0..available.len()).filter(|&i| available[i].to_lowercase() == name.to_lowercase()).collect()
            } else {
                exact
            };
            match found[..] {
                [i] => channels.push(i),
                [] => missing.push(format!("'{name}'")),
                _ => ambiguous.push(format!("'{name}'")),
            }
        }
        let quoted = available.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        if !missing.is_empty() {
            return Err(Error::config(format!(
                "the model needs channel(s) {} that the image does not have; its channels are {quoted}",
                missing.join(", ")
            )));
        }
        if !ambiguous.is_empty() {
            return Err(Error::config(format!(
                "the model's channel(s) {} match several of the image's channels {quoted}",
                ambiguous.join(", ")
            )));
        }
        let names = channels.iter().map(|&i| available[i].clone()).collect();
        Ok(Some(Picked { reader, channels, names }))
    }

    /// The reader's channel index behind each channel of this one.
    pub fn channels(&self) -> &[usize] {
        &self.channels
    }
}

impl RegionReader for Picked<'_> {
    fn width(&self) -> usize {
        self.reader.width()
    }

    fn height(&self) -> usize {
        self.reader.height()
    }

    fn channels(&self) -> usize {
        self.channels.len()
    }

    fn read(&self, x: usize, y: usize, w: usize, h: usize) -> Result<Array3<f32>> {
        Ok(self.reader.read(x, y, w, h)?.select(Axis(0), &self.channels))
    }

    fn channel_names(&self) -> Option<Vec<String>> {
        Some(self.names.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::InMemoryImage;
    use ndarray::Array;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// A 3-channel image whose every value is its channel index.
    fn image() -> InMemoryImage {
        InMemoryImage(Array::from_shape_fn((3, 2, 4), |(c, _, _)| c as f32))
    }

    #[test]
    fn channels_are_picked_and_reordered_by_name() {
        let img = image();
        let named = Named::new(&img, strings(&["CD3", "CK", "DAPI"])).unwrap();
        let picked = Picked::by_name(&named, &strings(&["DAPI", "CD3"])).unwrap().unwrap();
        assert_eq!(picked.channels(), [2, 0]);
        assert_eq!(RegionReader::channels(&picked), 2);
        let region = picked.read(1, 0, 3, 2).unwrap();
        assert_eq!(region.dim(), (2, 2, 3));
        assert!(region.index_axis(Axis(0), 0).iter().all(|&v| v == 2.0));
        assert!(region.index_axis(Axis(0), 1).iter().all(|&v| v == 0.0));
        assert_eq!(picked.channel_names().unwrap(), ["DAPI", "CD3"]);
    }

    #[test]
    fn exact_names_win_over_names_that_differ_in_case() {
        let img = image();
        let named = Named::new(&img, strings(&["dapi", "Cd3", "DAPI"])).unwrap();
        let picked = Picked::by_name(&named, &strings(&["DAPI", "cd3"])).unwrap().unwrap();
        assert_eq!(picked.channels(), [2, 1]);
        let e = Picked::by_name(&named, &strings(&["Dapi"])).err().unwrap().to_string();
        assert!(e.contains("the model's channel(s) 'Dapi' match several of the image's channels"), "{e}");
    }

    #[test]
    fn a_missing_channel_names_what_the_image_has() {
        let img = image();
        let named = Named::new(&img, strings(&["CD3", "CK", "DAPI"])).unwrap();
        let e = Picked::by_name(&named, &strings(&["DAPI", "CD8", "PD1"])).err().unwrap().to_string();
        assert!(e.contains("the model needs channel(s) 'CD8', 'PD1' that the image does not have; its channels are 'CD3', 'CK', 'DAPI'"), "{e}");
    }

    #[test]
    fn without_names_on_either_side_nothing_is_picked() {
        let img = image();
        assert!(Picked::by_name(&img, &strings(&["DAPI"])).unwrap().is_none());
        let named = Named::new(&img, strings(&["CD3", "CK", "DAPI"])).unwrap();
        assert!(Picked::by_name(&named, &[]).unwrap().is_none());
        assert!(Picked::by_name(&named, &strings(&["Channel 1", "Channel 2"])).unwrap().is_none());
        assert!(Picked::by_name(&named, &strings(&["Channel 2"])).is_err(), "only the names training makes up are ignored");
        let e = Named::new(&img, strings(&["CD3"])).err().unwrap().to_string();
        assert!(e.contains("1 channel names given for an image of 3 channels"), "{e}");
    }
}
