//! The tray's three icons, embedded in the binary and decoded once at start.
//! Sources and the render script live in `assets/icons/`; this module must never read icon
//! files at run time (an installed app has no assets folder).

use thiserror::Error;

use super::view::IconKind;

/// One decoded icon: straight RGBA, 8 bits per channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The three decoded icons.
#[derive(Debug, Clone)]
pub struct IconSet {
    pub on: Rgba,
    pub off: Rgba,
    pub error: Rgba,
}

impl IconSet {
    pub fn get(&self, kind: IconKind) -> &Rgba {
        match kind {
            IconKind::On => &self.on,
            IconKind::Off => &self.off,
            IconKind::Error => &self.error,
        }
    }
}

#[derive(Debug, Error)]
pub enum IconError {
    #[error("the embedded {name} icon is not a valid PNG: {source}")]
    Decode {
        name: &'static str,
        source: png::DecodingError,
    },
    #[error("the embedded {name} icon is not 8-bit RGBA")]
    Format { name: &'static str },
}

// Panels scale the file they are given: 64 px stays crisp when a Linux panel shrinks it to
// 16-32 px or HiDPI doubles it. Windows wants 16 px logical (32 for 2x); the macOS menu bar 22 pt.
// macOS gets coloured icons, not template images (a template is tinted black or white by the
// bar, so "on" could never be green); their light outer ring and dark rim keep them legible on
// light and dark menu bars alike.
#[cfg(target_os = "macos")]
mod embedded {
    pub const ON: &[u8] = include_bytes!("../../assets/icons/png/menubar-on-22@2x.png");
    pub const OFF: &[u8] = include_bytes!("../../assets/icons/png/menubar-off-22@2x.png");
    pub const ERROR: &[u8] = include_bytes!("../../assets/icons/png/menubar-error-22@2x.png");
}
#[cfg(target_os = "windows")]
mod embedded {
    pub const ON: &[u8] = include_bytes!("../../assets/icons/png/on-16@2x.png");
    pub const OFF: &[u8] = include_bytes!("../../assets/icons/png/off-16@2x.png");
    pub const ERROR: &[u8] = include_bytes!("../../assets/icons/png/error-16@2x.png");
}
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
mod embedded {
    pub const ON: &[u8] = include_bytes!("../../assets/icons/png/on-64.png");
    pub const OFF: &[u8] = include_bytes!("../../assets/icons/png/off-64.png");
    pub const ERROR: &[u8] = include_bytes!("../../assets/icons/png/error-64.png");
}

/// Decodes the platform's icons. Fails only if the build embedded a broken file.
pub fn load() -> Result<IconSet, IconError> {
    Ok(IconSet {
        on: decode("on", embedded::ON)?,
        off: decode("off", embedded::OFF)?,
        error: decode("error", embedded::ERROR)?,
    })
}

fn decode(name: &'static str, bytes: &[u8]) -> Result<Rgba, IconError> {
    let decoding = |source| IconError::Decode { name, source };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Expand palette/grey/16-bit files too, so a re-render with another tool still loads.
    decoder.set_transformations(png::Transformations::ALPHA | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(decoding)?;
    let size = reader
        .output_buffer_size()
        .ok_or(IconError::Format { name })?;
    let mut pixels = vec![0; size];
    let info = reader.next_frame(&mut pixels).map_err(decoding)?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return Err(IconError::Format { name });
    }
    pixels.truncate(info.buffer_size());
    Ok(Rgba {
        pixels,
        width: info.width,
        height: info.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean colour of the fully opaque pixels.
    fn mean_opaque(icon: &Rgba) -> [f64; 3] {
        let mut sum = [0f64; 3];
        let mut n = 0f64;
        for px in icon.pixels.chunks_exact(4).filter(|px| px[3] == 255) {
            for c in 0..3 {
                sum[c] += px[c] as f64;
            }
            n += 1.0;
        }
        assert!(n > 0.0, "no opaque pixels");
        sum.map(|s| s / n)
    }

    fn count(icon: &Rgba, pred: impl Fn(&[u8]) -> bool) -> usize {
        icon.pixels.chunks_exact(4).filter(|px| pred(px)).count()
    }

    #[test]
    fn embedded_icons_decode_square_and_rgba() {
        let set = load().unwrap();
        for icon in [&set.on, &set.off, &set.error] {
            assert_eq!(icon.width, icon.height);
            assert!(icon.width >= 32);
            assert_eq!(icon.pixels.len(), (icon.width * icon.height * 4) as usize);
        }
    }

    #[test]
    fn on_is_green_off_is_grey_error_has_a_red_mark() {
        let set = load().unwrap();
        let [r, g, b] = mean_opaque(&set.on);
        assert!(g > r + 40.0 && g > b + 40.0, "on is not green: {r} {g} {b}");
        let [r, g, b] = mean_opaque(&set.off);
        assert!(
            (r - g).abs() < 20.0 && (g - b).abs() < 20.0,
            "off is not grey: {r} {g} {b}"
        );
        let red = |px: &[u8]| px[3] == 255 && px[0] > 180 && px[1] < 80 && px[2] < 80;
        assert_eq!(count(&set.off, red), 0);
        assert!(count(&set.error, red) > 100, "error has no red mark");
    }

    #[test]
    fn every_rendered_png_in_the_assets_decodes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/icons/png");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let icon = decode("asset", &bytes).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let size: u32 = name
                .rsplit('-')
                .next()
                .unwrap()
                .trim_end_matches(".png")
                .trim_end_matches("@2x")
                .parse()
                .unwrap();
            let expected = if name.contains("@2x") { size * 2 } else { size };
            assert_eq!((icon.width, icon.height), (expected, expected), "{name}");
            seen += 1;
        }
        // on, off, error, menubar-on, menubar-off, menubar-error × 6 sizes × (1x, 2x)
        assert_eq!(seen, 6 * 6 * 2);
    }

    fn asset(name: &str) -> Rgba {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/icons/png")
            .join(name);
        decode("asset", &std::fs::read(&path).unwrap()).unwrap()
    }

    /// The macOS icons are checked here on every platform, since no Mac builds these tests.
    #[test]
    fn menu_bar_icons_are_green_or_grey_and_ringed_for_light_and_dark_bars() {
        let on = asset("menubar-on-22@2x.png");
        let [r, g, b] = mean_opaque(&on);
        assert!(g > r + 40.0 && g > b + 40.0, "on is not green: {r} {g} {b}");
        let off = asset("menubar-off-22@2x.png");
        let [r, g, b] = mean_opaque(&off);
        assert!(
            (r - g).abs() < 20.0 && (g - b).abs() < 20.0,
            "off is not grey: {r} {g} {b}"
        );
        let luma =
            |px: &[u8]| (299 * px[0] as u32 + 587 * px[1] as u32 + 114 * px[2] as u32) / 1000;
        for name in ["menubar-on-22@2x.png", "menubar-off-22@2x.png"] {
            let icon = asset(name);
            let size = icon.width as usize;
            // Walking in from the left edge along the middle row: the first solid pixel is the
            // light ring (it shows on a dark bar), then comes the dark rim (for a light bar).
            let row = &icon.pixels[size / 2 * size * 4..(size / 2 + 1) * size * 4];
            let solid: Vec<u32> = row
                .chunks_exact(4)
                .filter(|px| px[3] > 200)
                .map(luma)
                .collect();
            assert!(solid[0] > 220, "{name}: no light outer ring: {solid:?}");
            let dark = solid.iter().position(|&l| l < 110);
            assert!(
                dark.is_some_and(|i| i < 6),
                "{name}: no dark rim inside the ring: {solid:?}"
            );
        }
    }
}
