//! EXIF orientation (tag 0x0112): reading it and applying it to pixels.

/// How the stored pixels must be transformed to be displayed upright (EXIF values 1–8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orientation {
    /// 1: as stored.
    #[default]
    Normal,
    /// 2: mirrored left–right.
    FlipHorizontal,
    /// 3: rotated 180°.
    Rotate180,
    /// 4: mirrored top–bottom.
    FlipVertical,
    /// 5: mirrored along the top-left/bottom-right diagonal.
    Transpose,
    /// 6: to be rotated 90° clockwise for display.
    Rotate90,
    /// 7: mirrored along the top-right/bottom-left diagonal.
    Transverse,
    /// 8: to be rotated 90° counter-clockwise (270° clockwise) for display.
    Rotate270,
}

impl Orientation {
    /// From the EXIF value; anything outside 1–8 is treated as 1, as viewers do.
    pub fn from_exif(value: u32) -> Orientation {
        match value {
            2 => Orientation::FlipHorizontal,
            3 => Orientation::Rotate180,
            4 => Orientation::FlipVertical,
            5 => Orientation::Transpose,
            6 => Orientation::Rotate90,
            7 => Orientation::Transverse,
            8 => Orientation::Rotate270,
            _ => Orientation::Normal,
        }
    }

    /// The EXIF value (1–8).
    pub fn exif_value(self) -> u8 {
        match self {
            Orientation::Normal => 1,
            Orientation::FlipHorizontal => 2,
            Orientation::Rotate180 => 3,
            Orientation::FlipVertical => 4,
            Orientation::Transpose => 5,
            Orientation::Rotate90 => 6,
            Orientation::Transverse => 7,
            Orientation::Rotate270 => 8,
        }
    }

    /// Whether width and height trade places for display.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Orientation::Transpose
                | Orientation::Rotate90
                | Orientation::Transverse
                | Orientation::Rotate270
        )
    }

    /// Displayed size of a stored `(width, height)` image.
    pub fn displayed_size(self, width: u32, height: u32) -> (u32, u32) {
        if self.swaps_axes() {
            (height, width)
        } else {
            (width, height)
        }
    }
}

/// Read the orientation from a raw EXIF block (starting at the TIFF header, as found after
/// `Exif\0\0` in a JPEG APP1 segment). Unreadable EXIF counts as no orientation.
pub(crate) fn from_exif_block(tiff: &[u8]) -> Orientation {
    let Ok(exif) = exif::Reader::new().read_raw(tiff.to_vec()) else {
        return Orientation::Normal;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .map(Orientation::from_exif)
        .unwrap_or_default()
}

/// Apply `orientation` to a tightly packed image of `channels` bytes per pixel.
/// Returns the new buffer and its (width, height).
pub(crate) fn apply(
    orientation: Orientation,
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    channels: usize,
) -> (Vec<u8>, u32, u32) {
    if orientation == Orientation::Normal {
        return (pixels, width, height);
    }
    let (w, h) = (width as usize, height as usize);
    let (out_w, out_h) = orientation.displayed_size(width, height);
    let (ow, oh) = (out_w as usize, out_h as usize);
    let mut out = vec![0u8; pixels.len()];
    // For every output pixel (x, y), the stored pixel it shows.
    let source = |x: usize, y: usize| -> (usize, usize) {
        match orientation {
            Orientation::Normal => (x, y),
            Orientation::FlipHorizontal => (w - 1 - x, y),
            Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
            Orientation::FlipVertical => (x, h - 1 - y),
            Orientation::Transpose => (y, x),
            Orientation::Rotate90 => (y, h - 1 - x),
            Orientation::Transverse => (w - 1 - y, h - 1 - x),
            Orientation::Rotate270 => (w - 1 - y, x),
        }
    };
    for (y, row) in out.chunks_exact_mut(ow * channels).take(oh).enumerate() {
        for (x, px) in row.chunks_exact_mut(channels).enumerate() {
            let (sx, sy) = source(x, y);
            let at = (sy * w + sx) * channels;
            px.copy_from_slice(&pixels[at..at + channels]);
        }
    }
    (out, out_w, out_h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 single-channel image:
    /// ```text
    /// 1 2 3
    /// 4 5 6
    /// ```
    fn sample() -> Vec<u8> {
        vec![1, 2, 3, 4, 5, 6]
    }

    #[test]
    fn all_eight_orientations() {
        let cases: [(u32, &[u8], (u32, u32)); 8] = [
            (1, &[1, 2, 3, 4, 5, 6], (3, 2)),
            (2, &[3, 2, 1, 6, 5, 4], (3, 2)),
            (3, &[6, 5, 4, 3, 2, 1], (3, 2)),
            (4, &[4, 5, 6, 1, 2, 3], (3, 2)),
            (5, &[1, 4, 2, 5, 3, 6], (2, 3)),
            (6, &[4, 1, 5, 2, 6, 3], (2, 3)),
            (7, &[6, 3, 5, 2, 4, 1], (2, 3)),
            (8, &[3, 6, 2, 5, 1, 4], (2, 3)),
        ];
        for (value, expected, size) in cases {
            let o = Orientation::from_exif(value);
            assert_eq!(o.exif_value() as u32, value);
            let (out, w, h) = apply(o, sample(), 3, 2, 1);
            assert_eq!((w, h), size, "orientation {value}");
            assert_eq!(out, expected, "orientation {value}");
        }
    }
}
