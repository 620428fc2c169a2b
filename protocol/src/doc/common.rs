//! Parts shared by several kinds: GPS fixes and photos.

use std::collections::BTreeMap;

use automerge::ScalarValue;
use automerge::transaction::Transactable;

use super::access::{DocError, Field, MapReader, MapWriter, UnixMillis};
use super::format::Shape::{Entries, Scalar, ValueObject};
use super::format::code_enum;
use super::format::{BLOB_HASH, F64, Key as SchemaKey, TEXT, TIMESTAMP};
use super::issue::{Issue, Severity};
use crate::ids::BlobHash;

/// Keys of the shared parts.
pub mod key {
    pub const LAT: &str = "lat";
    pub const LON: &str = "lon";
    pub const ACCURACY_M: &str = "accuracy_m";

    pub const CATEGORY: &str = "category";
    pub const CAPTION: &str = "caption";
    pub const CAPTURED_AT: &str = "captured_at";
    pub const GPS: &str = "gps";
}

/// The published schema of a GPS fix at `key` (`gps` of a document or of a photo).
pub(crate) const fn gps_key(key: &'static str) -> SchemaKey {
    SchemaKey::opt(key, "定位", ValueObject(GPS))
        .about("one GPS fix (WGS-84), taken once per visit event; replaced whole when it changes")
}

const GPS: &[SchemaKey] = &[
    SchemaKey::req(key::LAT, "纬度", Scalar(&F64))
        .about(
            "degrees; outside 3.8 to 53.6 (or a longitude outside 73.4 to 135.1) is only a warning",
        )
        .range(Some(-90.0), Some(90.0), "gps.latitude_range"),
    SchemaKey::req(key::LON, "经度", Scalar(&F64))
        .about("degrees")
        .range(Some(-180.0), Some(180.0), "gps.longitude_range"),
    SchemaKey::opt(key::ACCURACY_M, "精度（米）", Scalar(&F64))
        .about("horizontal accuracy in metres, if the phone reported it")
        .range(Some(0.0), None, "gps.accuracy_range"),
];

/// The published schema of a document's photos (`photos`).
pub(crate) const fn photos_key(key: &'static str) -> SchemaKey {
    SchemaKey::req(key, "照片", Entries(&BLOB_HASH, PHOTO)).about(
        "photos keyed by the SHA-256 of the image (a blob); capture time and place are here, never in EXIF",
    )
}

const PHOTO: &[SchemaKey] = &[
    SchemaKey::req(key::CATEGORY, "照片类别", Scalar(&PhotoCategory::FORMAT)),
    SchemaKey::opt(key::CAPTION, "说明", Scalar(&TEXT)),
    SchemaKey::req(key::CAPTURED_AT, "拍摄时间", Scalar(&TIMESTAMP)),
    gps_key(key::GPS),
];

/// The rules of GPS fixes, at a document's `gps` and its photos'.
pub(crate) const GPS_RULES: [super::format::Rule; 4] = {
    use super::format::Rule;
    [
        Rule {
            code: "gps.latitude_range",
            severity: Severity::Error,
            paths: &["gps.lat", "photos.<blob_hash>.gps.lat"],
            when: "`lat` is not a number from -90 to 90",
        },
        Rule {
            code: "gps.longitude_range",
            severity: Severity::Error,
            paths: &["gps.lon", "photos.<blob_hash>.gps.lon"],
            when: "`lon` is not a number from -180 to 180",
        },
        Rule {
            code: "gps.accuracy_range",
            severity: Severity::Error,
            paths: &["gps.accuracy_m", "photos.<blob_hash>.gps.accuracy_m"],
            when: "`accuracy_m` is negative or not a number",
        },
        Rule {
            code: "gps.outside_china",
            severity: Severity::Warning,
            paths: &["gps", "photos.<blob_hash>.gps"],
            when: "a valid fix outside latitude 3.8 to 53.6 or longitude 73.4 to 135.1",
        },
    ]
};

/// A GPS fix (WGS-84 degrees), taken once per visit event, never tracked continuously. A value
/// object: stored as a map that is replaced whole, so latitude and longitude always come from the
/// same fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, if the phone reported it.
    pub accuracy_m: Option<f64>,
}

impl GeoPoint {
    pub(crate) fn read_opt(
        parent: &MapReader<'_>,
        key: &str,
    ) -> Result<Option<GeoPoint>, DocError> {
        let Some(m) = parent.opt_map(key)? else {
            return Ok(None);
        };
        Ok(Some(GeoPoint {
            lat: m.req(key::LAT)?,
            lon: m.req(key::LON)?,
            accuracy_m: m.opt(key::ACCURACY_M)?,
        }))
    }

    pub(crate) fn write_opt<T: Transactable>(
        point: Option<&GeoPoint>,
        parent: &mut MapWriter<'_, T>,
        key: &str,
    ) -> Result<(), DocError> {
        let fields = point.map(|p| {
            let mut f: Vec<(&str, ScalarValue)> =
                vec![(key::LAT, p.lat.to_scalar()), (key::LON, p.lon.to_scalar())];
            if let Some(a) = p.accuracy_m {
                f.push((key::ACCURACY_M, a.to_scalar()));
            }
            f
        });
        parent.value_object(key, fields.as_deref())
    }

    /// Range checks: latitude −90..90 and longitude −180..180 are errors; a point outside a box
    /// around China is only a warning (a worker may visit a household's member elsewhere).
    pub(crate) fn validate(&self, path: &str, out: &mut Vec<Issue>) {
        let lat_ok = self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat);
        let lon_ok = self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon);
        if !lat_ok {
            out.push(Issue::new(
                format!("{path}.{}", key::LAT),
                Severity::Error,
                "gps.latitude_range",
                "纬度应在 -90 到 90 之间",
                "latitude must be between -90 and 90",
            ));
        }
        if !lon_ok {
            out.push(Issue::new(
                format!("{path}.{}", key::LON),
                Severity::Error,
                "gps.longitude_range",
                "经度应在 -180 到 180 之间",
                "longitude must be between -180 and 180",
            ));
        }
        if self.accuracy_m.is_some_and(|a| !a.is_finite() || a < 0.0) {
            out.push(Issue::new(
                format!("{path}.{}", key::ACCURACY_M),
                Severity::Error,
                "gps.accuracy_range",
                "定位精度不能为负数",
                "accuracy must not be negative",
            ));
        }
        let in_china = (3.8..=53.6).contains(&self.lat) && (73.4..=135.1).contains(&self.lon);
        if lat_ok && lon_ok && !in_china {
            out.push(Issue::new(
                path.to_owned(),
                Severity::Warning,
                "gps.outside_china",
                "定位点不在中国境内，请核对",
                "the location is outside China; please check it",
            ));
        }
    }
}

code_enum! {
    /// What a photo shows (照片类别).
    pub enum PhotoCategory {
        /// 房屋外观
        DwellingOutside = ("dwelling_outside", "房屋外观"),
        /// 室内
        DwellingInside = ("dwelling_inside", "室内"),
        /// 厨房
        Kitchen = ("kitchen", "厨房"),
        /// 床铺被褥
        Bedding = ("bedding", "床铺被褥"),
        /// 证件材料
        Document = ("document", "证件材料"),
        /// 其他
        Other = ("other", "其他"),
    }
}

/// A photo (照片). The image is a blob named by its SHA-256, the key of the photo in its
/// document's photo map; capture time and place are fields here, never EXIF.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub category: PhotoCategory,
    pub caption: Option<String>,
    pub captured_at: UnixMillis,
    pub gps: Option<GeoPoint>,
}

impl Photo {
    pub(crate) fn read(m: &MapReader<'_>) -> Result<Photo, DocError> {
        Ok(Photo {
            category: m.req(key::CATEGORY)?,
            caption: m.opt(key::CAPTION)?,
            captured_at: m.req(key::CAPTURED_AT)?,
            gps: GeoPoint::read_opt(m, key::GPS)?,
        })
    }

    pub(crate) fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        m.set(key::CATEGORY, &self.category)?;
        m.set_opt(key::CAPTION, self.caption.as_ref())?;
        m.set(key::CAPTURED_AT, &self.captured_at)?;
        GeoPoint::write_opt(self.gps.as_ref(), m, key::GPS)
    }

    pub(crate) fn validate_all(
        photos: &BTreeMap<BlobHash, Photo>,
        path: &str,
        out: &mut Vec<Issue>,
    ) {
        for (hash, photo) in photos {
            if let Some(gps) = &photo.gps {
                gps.validate(&format!("{path}.{hash}.{}", key::GPS), out);
            }
        }
    }
}
