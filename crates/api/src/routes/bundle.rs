//! The bundle hooks download: JSON, or a gzip'd tar with `.toolkit-sync/manifest`, behind a
//! strong ETag that a matching `If-None-Match` turns into a 304 without reading any doc.

use std::io::Write;

use actix_web::http::header::{ACCEPT, ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Deserialize;
use toolkit_application::ports::BundleDoc;
use toolkit_application::services::{Bundle, BundleFormat, BundleRead};
use toolkit_domain::ProjectId;
use utoipa::IntoParams;

use crate::dto::{BundleDocDto, BundleDto};
use crate::extractors::{AnyPrincipal, path_id};
use crate::problem::{ApiError, Problem};
use crate::responses::{AuthErrors, NotFound, QueryErrors};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BundleParams {
    /// Only docs whose path starts with this.
    pub prefix: Option<String>,
}

/// Where the manifest sits inside the tarball.
pub const MANIFEST_PATH: &str = ".toolkit-sync/manifest";

fn wants_tarball(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .any(|media| {
            matches!(
                media,
                "application/gzip" | "application/x-gzip" | "application/x-tar+gzip"
            )
        })
}

/// A gzip'd tar of the docs at their paths plus the manifest (`<sha256>  <path>` per line, the
/// format `sha256sum -c` reads).
fn tarball(docs: &[BundleDoc]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut manifest = String::new();
    let mut add = |path: &str, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(&mut header, path, bytes)
    };
    for doc in docs {
        add(&doc.path, doc.content.as_bytes())?;
        manifest.push_str(&format!("{}  {}\n", doc.sha256, doc.path));
    }
    add(MANIFEST_PATH, manifest.as_bytes())?;
    let mut gz = archive.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// Every live doc of the project. `If-None-Match` with the current ETag → 304, no body, no
/// doc read. `Accept: application/gzip` → a tarball with `.toolkit-sync/manifest`.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/bundle", tag = "bundle", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), BundleParams,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the bundle you have"),
        ("Accept" = Option<String>, Header, description = "`application/gzip` for the tarball; JSON otherwise")),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "The bundle (JSON, or with `Accept: application/gzip` a tarball with `.toolkit-sync/manifest`); strong `ETag`",
            headers(("ETag" = String, description = "Strong tag of this bundle representation")),
            content((BundleDto = "application/json"), (Vec<u8> = "application/gzip"))),
        (status = 304, description = "Unchanged since the ETag you sent", headers(("ETag" = String, description = "Strong tag of this bundle representation"))),
        (status = 422, description = "`prefix` is not a valid path prefix", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn bundle(
    state: web::Data<AppState>,
    who: AnyPrincipal,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<BundleParams>,
) -> Result<HttpResponse, ApiError> {
    let project_id: ProjectId = path_id(&path, "project")?;
    let format = if wants_tarball(&req) {
        BundleFormat::Tarball
    } else {
        BundleFormat::Json
    };
    let if_none_match = req.headers().get(IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let read = state
        .bundles
        .bundle(
            &who.0,
            project_id,
            query.into_inner().prefix,
            format,
            if_none_match,
        )
        .await?;
    let Bundle {
        etag,
        generated_at,
        docs,
    } = match read {
        BundleRead::NotModified { etag } => {
            return Ok(HttpResponse::NotModified().insert_header((ETAG, etag)).finish());
        }
        BundleRead::Bundle(bundle) => bundle,
    };
    match format {
        BundleFormat::Tarball => {
            let bytes = web::block(move || tarball(&docs))
                .await
                .map_err(|e| ApiError::internal(&e))?
                .map_err(|e| ApiError::internal(&e))?;
            Ok(HttpResponse::Ok()
                .insert_header((ETAG, etag))
                .content_type("application/gzip")
                .body(bytes))
        }
        BundleFormat::Json => {
            let body = BundleDto {
                project_id: project_id.as_uuid(),
                etag: etag.clone(),
                generated_at,
                docs: docs
                    .into_iter()
                    .map(|d| BundleDocDto {
                        path: d.path,
                        content: d.content,
                        sha256: d.sha256,
                        version: d.version,
                    })
                    .collect(),
            };
            Ok(HttpResponse::Ok().insert_header((ETAG, etag)).json(body))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_tarball_holds_the_docs_and_a_sha256sum_manifest() {
        let docs = vec![BundleDoc {
            doc_id: toolkit_domain::DocId::from_uuid(uuid::Uuid::now_v7()),
            path: ".claude/commands/review.md".into(),
            content: "review".into(),
            sha256: toolkit_domain::doc::sha256_hex(b"review"),
            version: 2,
        }];
        let bytes = tarball(&docs).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut files = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            files.push((entry.path().unwrap().display().to_string(), text));
        }
        assert_eq!(
            files[0],
            (".claude/commands/review.md".to_owned(), "review".to_owned())
        );
        assert_eq!(files[1].0, MANIFEST_PATH);
        assert_eq!(
            files[1].1,
            format!("{}  .claude/commands/review.md\n", docs[0].sha256)
        );
    }
}
