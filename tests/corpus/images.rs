//! Images for the fingerprint tests and the load tool: generated, of varied structure
//! (gradients, shapes, stripes, noise, and mixes of them), and the everyday changes an
//! image goes through when it travels, which its ISCC Image-Code must survive.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use super::Rng;

/// The `i`-th generated image, 320x240 to 640x480, PNG.
pub fn generated_png(i: u64) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(generated(i)), ImageFormat::Png)
}

/// The `i`-th generated image: a background (a gradient, or noise over a colour) with 3
/// to 12 shapes (rectangles, discs, stripes) of random colours.
///
/// Never a plain background: an image that is one colour once its uniform borders are
/// trimmed (a single shape on a plain ground) has no stable Image-Code (its DCT is all
/// but zero, and the bits compare noise with noise). Such images are not what the
/// fingerprint is for; the README says so.
pub fn generated(i: u64) -> RgbImage {
    let mut r = Rng(i.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(3));
    let (w, h) = (320 + 32 * r.below(11) as u32, 240 + 24 * r.below(11) as u32);
    let colour = |r: &mut Rng| Rgb([r.below(256) as u8, r.below(256) as u8, r.below(256) as u8]);
    let (a, b) = (colour(&mut r), colour(&mut r));
    let background = if r.below(2) == 0 { 0 } else { 2 };
    let mut img = RgbImage::from_fn(w, h, |x, y| match background {
        0 => {
            let t = (x + y) as f32 / (w + h) as f32;
            Rgb(std::array::from_fn(|c| (a.0[c] as f32 * (1.0 - t) + b.0[c] as f32 * t) as u8))
        }
        1 => a,
        _ => {
            let n = ((x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ i as u32).wrapping_mul(1_274_126_177)
                >> 24) as u8;
            Rgb(std::array::from_fn(|c| a.0[c] / 2 + n / 2))
        }
    });
    for _ in 0..3 + r.below(10) {
        let c = colour(&mut r);
        let (x0, y0) = (r.below(w as usize) as u32, r.below(h as usize) as u32);
        let (sw, sh) = (20 + r.below(w as usize / 2) as u32, 20 + r.below(h as usize / 2) as u32);
        let shape = r.below(3);
        for y in y0..(y0 + sh).min(h) {
            for x in x0..(x0 + sw).min(w) {
                let inside = match shape {
                    0 => true,
                    1 => {
                        let (dx, dy) = (x as f32 - (x0 + sw / 2) as f32, y as f32 - (y0 + sh / 2) as f32);
                        (dx / (sw as f32 / 2.0)).powi(2) + (dy / (sh as f32 / 2.0)).powi(2) <= 1.0
                    }
                    _ => (x / 8) % 2 == 0,
                };
                if inside {
                    img.put_pixel(x, y, c);
                }
            }
        }
    }
    img
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
            img.to_rgb8().write_with_encoder(encoder).expect("JPEG encodes");
        }
        f => img.write_to(&mut out, f).expect("encodes"),
    }
    out.into_inner()
}

fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.to_rgb8().write_with_encoder(encoder).expect("JPEG encodes");
    out.into_inner()
}

/// The everyday changes, by name: each takes an image file and gives the changed file.
/// A change by name: it takes an image file and gives the changed file.
pub type Change = (&'static str, fn(&[u8]) -> Vec<u8>);

pub const CHANGES: [Change; 5] = [
    ("re-encoded as JPEG at quality 70", |f| jpeg(&decode(f), 70)),
    ("resized to 50%", |f| {
        let img = decode(f);
        encode(&img.resize(img.width() / 2, img.height() / 2, image::imageops::FilterType::Triangle), ImageFormat::Png)
    }),
    // What platforms do to every upload: the pixels kept, every metadata chunk dropped,
    // the file written anew.
    ("metadata stripped", |f| encode(&decode(f), ImageFormat::Png)),
    ("PNG to JPEG and back", |f| encode(&decode(&jpeg(&decode(f), 90)), ImageFormat::Png)),
    ("brightness +10%", |f| {
        let mut img = decode(f).to_rgb8();
        for p in img.pixels_mut() {
            for c in &mut p.0 {
                *c = (*c as f32 * 1.1).min(255.0) as u8;
            }
        }
        encode(&DynamicImage::ImageRgb8(img), ImageFormat::Png)
    }),
];

/// Changes measured but not required (README: what defeats ISCC): crops, mirroring and
/// patterned borders defeat it by design; a plain border is trimmed by its preparation.
pub const DEFEATS: [Change; 4] = [
    ("cropped by 20% on each side", |f| {
        let img = decode(f);
        let (w, h) = (img.width(), img.height());
        encode(&img.crop_imm(w / 5, h / 5, w * 3 / 5, h * 3 / 5), ImageFormat::Png)
    }),
    ("mirrored", |f| encode(&decode(f).fliph(), ImageFormat::Png)),
    ("a plain 25% border added", |f| framed(f, |_, _| Rgb([200, 30, 90]))),
    ("a patterned 25% border added", |f| framed(f, |x, y| Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 120]))),
];

/// The image of `file` on a ground half as large again, painted by `ground`.
fn framed(file: &[u8], ground: fn(u32, u32) -> Rgb<u8>) -> Vec<u8> {
    let img = decode(file).to_rgb8();
    let (w, h) = (img.width(), img.height());
    let mut framed = RgbImage::from_fn(w + w / 2, h + h / 2, ground);
    image::imageops::overlay(&mut framed, &img, (w / 4) as i64, (h / 4) as i64);
    encode(&DynamicImage::ImageRgb8(framed), ImageFormat::Png)
}

pub fn decode(file: &[u8]) -> DynamicImage {
    image::load_from_memory(file).expect("the test image decodes")
}
