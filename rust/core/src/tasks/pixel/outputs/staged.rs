//! Output files that appear only when complete: rows stream into a temporary
//! file beside the target, which is renamed into place at the end and
//! deleted if the writer is dropped before that.

use crate::model_dir::StagedFile;
use crate::{Error, Result};
use std::fs::File;
use std::path::Path;

/// A staged file for `target`, and the next row it expects.
pub(super) struct Staged {
    file: StagedFile,
    height: usize,
    next_row: usize,
}

impl Staged {
    /// Creates the temporary file for an image `height` rows high (0 for
    /// files that are not written by rows). An existing `target` is replaced
    /// when the new file is committed.
    pub fn create(target: &Path, height: usize) -> Result<(Staged, File)> {
        let (file, open) = StagedFile::create(target)?;
        Ok((Staged { file, height, next_row: 0 }, open))
    }

    pub fn target(&self) -> &Path {
        self.file.target()
    }

    /// Accepts rows `y .. y + rows` if they are the next ones.
    pub fn advance(&mut self, y: usize, rows: usize) -> Result<()> {
        if self.file.is_committed() {
            return Err(Error::data(self.target(), "rows written after the file was finished"));
        }
        if y != self.next_row || y + rows > self.height {
            return Err(Error::data(
                self.target(),
                format!("rows {y}..{} arrived, expected rows from {} of {}", y + rows, self.next_row, self.height),
            ));
        }
        self.next_row += rows;
        Ok(())
    }

    /// Fails unless every row has been written.
    pub fn check_complete(&self) -> Result<()> {
        if self.next_row != self.height {
            return Err(Error::data(self.target(), format!("only {} of {} rows were written", self.next_row, self.height)));
        }
        Ok(())
    }

    /// Renames the finished file into place.
    pub fn commit(&mut self) -> Result<()> {
        self.file.commit()
    }
}

/// Writes a whole small file (such as a table) through a temporary file.
pub(super) fn write_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let (mut staged, mut file) = Staged::create(target, 0)?;
    std::io::Write::write_all(&mut file, bytes).map_err(|e| Error::io(target, e))?;
    staged.commit()
}

/// An 8-bit PNG streamed row by row into a [`Staged`] file.
pub(super) struct PngRows {
    writer: Option<png::StreamWriter<'static, File>>,
    staged: Staged,
    row_bytes: usize,
}

impl PngRows {
    pub fn create(target: &Path, width: usize, height: usize, color: png::ColorType) -> Result<PngRows> {
        let size = |v: usize| u32::try_from(v).ok().filter(|&v| v > 0);
        let (Some(w), Some(h)) = (size(width), size(height)) else {
            return Err(Error::config(format!("cannot write a {width}x{height} PNG")));
        };
        let (staged, file) = Staged::create(target, height)?;
        let mut encoder = png::Encoder::new(file, w, h);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let bad = |e: png::EncodingError| Error::data(target, format!("cannot write PNG: {e}"));
        let writer = encoder.write_header().map_err(bad)?.into_stream_writer().map_err(bad)?;
        Ok(PngRows { writer: Some(writer), staged, row_bytes: width * color.samples() })
    }

    /// Appends whole rows starting at row `y`, given as packed pixel bytes.
    pub fn write_rows(&mut self, y: usize, bytes: &[u8]) -> Result<()> {
        self.staged.advance(y, bytes.len() / self.row_bytes)?;
        let writer = self.writer.as_mut().ok_or_else(|| Error::data(self.staged.target(), "the PNG writer failed"))?;
        std::io::Write::write_all(writer, bytes).map_err(|e| Error::io(self.staged.target(), e))
    }

    pub fn finish(&mut self) -> Result<()> {
        self.staged.check_complete()?;
        let writer = self.writer.take().ok_or_else(|| Error::data(self.staged.target(), "the PNG was already finished"))?;
        writer.finish().map_err(|e| Error::data(self.staged.target(), format!("cannot write PNG: {e}")))?;
        self.staged.commit()
    }
}
