//! PLACEHOLDER until the image-fp branch lands (replaced by the prepared pipeline).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImageBounds {
    pub max_bytes: u64,
    pub max_pixels: u64,
}
impl ImageBounds {
    pub(crate) const DEFAULT: ImageBounds = ImageBounds { max_bytes: 50 << 20, max_pixels: 50_000_000 };
}
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ImageError {
    #[error("undecodable: {0}")]
    Undecodable(String),
}
pub(crate) fn image_code_body(bytes: &[u8], _bounds: ImageBounds) -> Result<[u8; 32], ImageError> {
    let img = image::load_from_memory(bytes).map_err(|e| ImageError::Undecodable(e.to_string()))?;
    let small = img.grayscale().resize_exact(32, 32, image::imageops::FilterType::CatmullRom).to_luma8();
    let code = iscc_lib::gen_image_code_v0(small.as_raw(), 256).map_err(|e| ImageError::Undecodable(e.to_string()))?;
    let (_, _, _, _, body) = iscc_lib::iscc_decode(&code.iscc).map_err(|e| ImageError::Undecodable(e.to_string()))?;
    body.try_into().map_err(|_| ImageError::Undecodable("body".into()))
}
