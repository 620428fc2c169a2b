//! P5 benchmark: the photo pipeline against `vipsthumbnail` and ImageMagick on the same files,
//! in the same run.
//!
//! ```text
//! cargo run --release -p doudi-sdk --bin photo-bench -- [--runs N] [PHOTOS_DIR]
//! ```
//!
//! PHOTOS_DIR defaults to `shared/data/photos` beside the checkout, or `DOUDI_PHOTOS_DIR`.
//! Times are medians of N runs (default 5). doudi is timed in-process (decode, orient, resize,
//! thumbnail, two encodes, two hashes); the tools are timed as the processes a server would spawn.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use doudi_sdk::photo::{PhotoConfig, process_photo};

const PHOTOS: [&str; 6] = [
    "bythewater.jpg",
    "eveningglow.jpg",
    "colorfulcups.jpg",
    "path.jpg",
    "kite.jpg",
    "fallenleaf.jpg",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("photo-bench: {e}");
        std::process::exit(1);
    }
}

struct Row {
    name: &'static str,
    doudi: Duration,
    doudi_bytes: usize,
    thumb_bytes: usize,
    psnr: f64,
    /// PSNR of the reference itself after the same JPEG encoding (quality 80): what encoding alone
    /// costs, whatever the decode and resize.
    psnr_ceiling: f64,
    vips: Option<(Duration, usize, f64)>,
    magick: Option<(Duration, usize)>,
}

fn run() -> Result<(), String> {
    let mut runs = 5usize;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .ok_or("--runs needs a positive number")?;
        } else {
            dir = Some(PathBuf::from(arg));
        }
    }
    let dir = dir.unwrap_or_else(default_photos_dir);
    let work = std::env::temp_dir().join(format!("doudi-photo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    let vips = find_vips();
    let magick = find_imagemagick();
    println!("photos: {}", dir.display());
    println!("runs per photo: {runs} (median)");
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    match &vips {
        Some(v) => println!("vipsthumbnail: {v}"),
        None => println!("vipsthumbnail: NOT FOUND (apt-get install libvips-tools); doudi only"),
    }
    match &magick {
        Some((path, v)) => println!("ImageMagick: {path} ({v})"),
        None => println!("ImageMagick: NOT FOUND (apt-get install imagemagick); doudi only"),
    }
    println!();

    let config = PhotoConfig::default();
    let mut rows = Vec::new();
    for name in PHOTOS {
        let path = dir.join(name);
        let source = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;

        let mut result = None;
        let doudi = median(runs, || {
            result = Some(process_photo(&source, &config));
        });
        let out = match result {
            Some(Ok(out)) => out,
            Some(Err(e)) => return Err(format!("{name}: {e}")),
            None => return Err(format!("{name}: not run")),
        };
        let reference = lanczos_reference(&source, out.image.width, out.image.height)?;
        let psnr = psnr(&reference, &out.image.bytes)?;
        let psnr_ceiling = self::psnr(&reference, &encode_q80(&reference)?)?;

        let vips_row = match vips {
            Some(_) => {
                let target = work.join(format!("vips-{name}"));
                let spec = format!("{}[Q=80,strip]", target.display());
                let time = median(runs, || {
                    let _ = Command::new("vipsthumbnail")
                        .args(["-s", "1600", "-o", &spec])
                        .arg(&path)
                        .status();
                });
                let bytes = std::fs::read(&target).map_err(|e| format!("vips output: {e}"))?;
                Some((time, bytes.len(), self::psnr(&reference, &bytes)?))
            }
            None => None,
        };
        let magick_row = match &magick {
            Some((tool, _)) => {
                let target = work.join(format!("magick-{name}"));
                let time = median(runs, || {
                    let _ = Command::new(tool)
                        .arg(&path)
                        .args(["-auto-orient", "-resize", "1600x1600", "-strip"])
                        .args(["-quality", "80"])
                        .arg(&target)
                        .stderr(std::process::Stdio::null())
                        .status();
                });
                let size = std::fs::metadata(&target)
                    .map_err(|e| format!("ImageMagick output: {e}"))?
                    .len();
                Some((time, size as usize))
            }
            None => None,
        };
        rows.push(Row {
            name,
            doudi,
            doudi_bytes: out.image.bytes.len(),
            thumb_bytes: out.thumbnail.bytes.len(),
            psnr,
            psnr_ceiling,
            vips: vips_row,
            magick: magick_row,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!(
        "| photo | doudi 1600+320 ms | vips 1600 ms | IM 1600 ms | doudi/vips | doudi/IM \
         | doudi bytes | vips bytes | IM bytes | bytes doudi/vips | thumb bytes | PSNR doudi dB \
         | PSNR vips dB | PSNR reference at Q80 dB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let na = || "n/a".to_owned();
    for r in rows {
        let vips_ms = r.vips.map(|v| ms(v.0));
        let im_ms = r.magick.map(|m| ms(m.0));
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} |",
            r.name,
            ms(r.doudi),
            vips_ms.map_or_else(na, |v| format!("{v:.0}")),
            im_ms.map_or_else(na, |v| format!("{v:.0}")),
            vips_ms.map_or_else(na, |v| format!("{:.2}", ms(r.doudi) / v)),
            im_ms.map_or_else(na, |v| format!("{:.2}", ms(r.doudi) / v)),
            r.doudi_bytes,
            r.vips.map_or_else(na, |v| v.1.to_string()),
            r.magick.map_or_else(na, |m| m.1.to_string()),
            r.vips
                .map_or_else(na, |v| format!("{:.3}", r.doudi_bytes as f64 / v.1 as f64)),
            r.thumb_bytes,
            r.psnr,
            r.vips.map_or_else(na, |v| format!("{:.1}", v.2)),
            r.psnr_ceiling,
        );
    }
    let total = |f: &dyn Fn(&Row) -> Option<f64>| -> Option<f64> {
        rows.iter().map(f).sum::<Option<f64>>()
    };
    let doudi = total(&|r| Some(ms(r.doudi))).unwrap_or(0.0);
    let vips = total(&|r| r.vips.map(|v| ms(v.0)));
    let magick = total(&|r| r.magick.map(|m| ms(m.0)));
    let bytes = total(&|r| Some(r.doudi_bytes as f64)).unwrap_or(0.0);
    let vips_bytes = total(&|r| r.vips.map(|v| v.1 as f64));
    let min_psnr = rows.iter().map(|r| r.psnr).fold(f64::INFINITY, f64::min);
    println!();
    println!("total doudi (1600 px + 320 px thumbnail): {doudi:.0} ms");
    if let Some(v) = vips {
        println!(
            "total vipsthumbnail (1600 px): {v:.0} ms; doudi/vips = {:.2}",
            doudi / v
        );
    }
    if let Some(m) = magick {
        println!(
            "total ImageMagick (1600 px): {m:.0} ms; doudi/ImageMagick = {:.2}",
            doudi / m
        );
    }
    if let Some(vb) = vips_bytes {
        println!("bytes doudi/vips = {:.3}", bytes / vb);
    }
    println!(
        "lowest PSNR of doudi against the Lanczos3 reference: {min_psnr:.1} dB (target >= 35)"
    );
}

/// Median wall time of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Full-size decode, EXIF orientation, `image`'s Lanczos3 to the output size.
fn lanczos_reference(source: &[u8], width: u32, height: u32) -> Result<image::RgbImage, String> {
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_decoder()
        .map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().map_err(|e| e.to_string())?;
    let mut full = image::DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    full.apply_orientation(orientation);
    Ok(image::imageops::resize(
        &full.into_rgb8(),
        width,
        height,
        image::imageops::FilterType::Lanczos3,
    ))
}

/// The reference encoded as the pipeline encodes (same crate, quality 80, 4:2:0).
fn encode_q80(reference: &image::RgbImage) -> Result<Vec<u8>, String> {
    let (w, h) = reference.dimensions();
    let (Ok(w), Ok(h)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err("reference too large for JPEG".to_owned());
    };
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(reference.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// PSNR in dB of the JPEG `encoded` against `reference` (RGB, 8 bits).
fn psnr(reference: &image::RgbImage, encoded: &[u8]) -> Result<f64, String> {
    let decoded = image::load_from_memory(encoded)
        .map_err(|e| e.to_string())?
        .into_rgb8();
    if decoded.dimensions() != reference.dimensions() {
        return Err(format!(
            "size {:?} differs from the reference {:?}",
            decoded.dimensions(),
            reference.dimensions()
        ));
    }
    let sum: f64 = decoded
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    let mse = sum / decoded.as_raw().len() as f64;
    Ok(if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    })
}

fn default_photos_dir() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/photos");
    if beside.is_dir() {
        return beside;
    }
    std::env::var_os("DOUDI_PHOTOS_DIR").map_or(beside, PathBuf::from)
}

/// libvips version if `vipsthumbnail` runs.
fn find_vips() -> Option<String> {
    let out = Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && text.contains("vips")).then_some(text)
}

/// ImageMagick's `magick` or `/usr/bin/convert`, only if it says it is ImageMagick (a `convert`
/// earlier on PATH may be something else).
fn find_imagemagick() -> Option<(String, String)> {
    ["magick", "/usr/bin/convert"].into_iter().find_map(|tool| {
        let out = Command::new(tool).arg("-version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next()?.trim().to_owned();
        first
            .contains("ImageMagick")
            .then(|| (tool.to_owned(), first))
    })
}
