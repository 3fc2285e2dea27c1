//! The bundle hooks download: JSON, or a gzip'd tar with `.toolkit-sync/manifest`, behind a
//! strong ETag that a matching `If-None-Match` turns into a 304 without reading any doc. The
//! body is streamed: the docs' content is read page by page (see `BundlePages`) and written
//! out as it comes, so memory holds one page, not the bundle (several times over).

use std::io::Write;

use actix_web::http::header::{ACCEPT, ETAG, IF_NONE_MATCH};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use toolkit_application::ports::{BundleDoc, BundleEntry};
use toolkit_application::services::{Bundle, BundleFormat, BundlePages, BundleRead};
use toolkit_domain::ProjectId;
use utoipa::IntoParams;
use uuid::Uuid;

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

/// `<sha256>  <path>` per doc, the format `sha256sum -c` reads; known before any content.
fn manifest(entries: &[BundleEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{}  {}\n", e.sha256, e.path))
        .collect()
}

/// A gzip'd tar written a page of docs at a time; each step hands back the compressed bytes
/// produced so far, so they can be sent and dropped.
struct TarWriter {
    archive: tar::Builder<GzEncoder<Vec<u8>>>,
}

impl TarWriter {
    fn new() -> Self {
        Self {
            archive: tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast())),
        }
    }

    fn add(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        self.archive.append_data(&mut header, path, bytes)
    }

    /// Adds the docs; returns the compressed output so far.
    fn docs(&mut self, docs: &[BundleDoc]) -> std::io::Result<Vec<u8>> {
        for doc in docs {
            self.add(&doc.path, doc.content.as_bytes())?;
        }
        Ok(std::mem::take(self.archive.get_mut().get_mut()))
    }

    /// Adds the manifest and ends the archive; returns the rest of the output.
    fn finish(mut self, manifest: &str) -> std::io::Result<Vec<u8>> {
        self.add(MANIFEST_PATH, manifest.as_bytes())?;
        let mut gz = self.archive.into_inner()?;
        gz.flush()?;
        gz.finish()
    }
}

fn stream_error(error: impl std::fmt::Display) -> std::io::Error {
    // The status line is gone: all that is left is to cut the body short (the client sees a
    // truncated tarball or invalid JSON, never a complete-looking partial bundle).
    tracing::error!(error = %error, "bundle stream failed");
    std::io::Error::other("the bundle could not be read completely")
}

/// The tarball, one page of docs at a time, compressed on the blocking pool.
fn tarball_stream(pages: BundlePages, manifest: String) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let state = (Some(TarWriter::new()), pages, manifest);
    futures_util::stream::unfold(state, |(writer, mut pages, manifest)| async move {
        let mut writer = writer?;
        match pages.next_page().await {
            Ok(Some(docs)) => {
                let written = web::block(move || writer.docs(&docs).map(|bytes| (writer, bytes))).await;
                match written {
                    Ok(Ok((writer, bytes))) => {
                        Some((Ok(Bytes::from(bytes)), (Some(writer), pages, manifest)))
                    }
                    Ok(Err(e)) => Some((Err(stream_error(e)), (None, pages, manifest))),
                    Err(e) => Some((Err(stream_error(e)), (None, pages, manifest))),
                }
            }
            Ok(None) => {
                let text = manifest.clone();
                let rest = web::block(move || writer.finish(&text)).await;
                let item = match rest {
                    Ok(Ok(bytes)) => Ok(Bytes::from(bytes)),
                    Ok(Err(e)) => Err(stream_error(e)),
                    Err(e) => Err(stream_error(e)),
                };
                Some((item, (None, pages, manifest)))
            }
            Err(e) => Some((Err(stream_error(e)), (None, pages, manifest))),
        }
    })
}

/// The members of the JSON bundle before `docs` (same names as [`crate::dto::BundleDto`]).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonHead<'a> {
    project_id: Uuid,
    etag: &'a str,
    generated_at: chrono::DateTime<chrono::Utc>,
}

/// `{"projectId":…,"etag":…,"generatedAt":…,"docs":[` — then the docs as they are read.
fn json_head(project_id: ProjectId, etag: &str, generated_at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let head = serde_json::to_string(&JsonHead {
        project_id: project_id.as_uuid(),
        etag,
        generated_at,
    })
    .unwrap_or_else(|_| "{".to_owned());
    let mut bytes = head.trim_end_matches('}').as_bytes().to_vec();
    if bytes.len() > 1 {
        bytes.push(b',');
    }
    bytes.extend_from_slice(b"\"docs\":[");
    bytes
}

fn json_docs(docs: Vec<BundleDoc>, first: &mut bool) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::new();
    for d in docs {
        if !*first {
            bytes.push(b',');
        }
        *first = false;
        serde_json::to_writer(
            &mut bytes,
            &BundleDocDto {
                path: d.path,
                content: d.content,
                sha256: d.sha256,
                version: d.version,
            },
        )?;
    }
    Ok(bytes)
}

/// The JSON bundle: its head, each page of docs as it is read, then `]}`.
fn json_stream(head: Vec<u8>, pages: BundlePages) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    // (head not sent yet, pages, no doc written yet, finished)
    let state = (Some(head), pages, true, false);
    futures_util::stream::unfold(state, |(head, mut pages, mut first, done)| async move {
        if let Some(head) = head {
            return Some((Ok(Bytes::from(head)), (None, pages, first, done)));
        }
        if done {
            return None;
        }
        match pages.next_page().await {
            Ok(Some(docs)) => match json_docs(docs, &mut first) {
                Ok(bytes) => Some((Ok(Bytes::from(bytes)), (None, pages, first, false))),
                Err(e) => Some((Err(stream_error(e)), (None, pages, first, true))),
            },
            Ok(None) => Some((Ok(Bytes::from_static(b"]}")), (None, pages, first, true))),
            Err(e) => Some((Err(stream_error(e)), (None, pages, first, true))),
        }
    })
}

/// Every live doc of the project. `If-None-Match` with the current ETag → 304, no body, no
/// doc read. `Accept: application/gzip` → a tarball with `.toolkit-sync/manifest`. The body
/// is streamed (chunked): a read failure midway cuts it short.
#[utoipa::path(get, path = "/api/v1/projects/{projectId}/bundle", tag = "bundle", security(("bearer" = []), ("apiKey" = [])),
    params(("projectId" = Uuid, Path, description = "Project id"), BundleParams,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the bundle you have"),
        ("Accept" = Option<String>, Header, description = "`application/gzip` for the tarball; JSON otherwise")),
    responses(
        AuthErrors, NotFound, QueryErrors,
        (status = 200, description = "The bundle (JSON, or with `Accept: application/gzip` a tarball with `.toolkit-sync/manifest`), streamed; strong `ETag`",
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
        entries,
        pages,
    } = match read {
        BundleRead::NotModified { etag } => {
            return Ok(HttpResponse::NotModified().insert_header((ETAG, etag)).finish());
        }
        BundleRead::Bundle(bundle) => bundle,
    };
    match format {
        BundleFormat::Tarball => Ok(HttpResponse::Ok()
            .insert_header((ETAG, etag))
            .content_type("application/gzip")
            .streaming(tarball_stream(pages, manifest(&entries)))),
        BundleFormat::Json => {
            let head = json_head(project_id, &etag, generated_at);
            Ok(HttpResponse::Ok()
                .insert_header((ETAG, etag))
                .content_type("application/json")
                .streaming(json_stream(head, pages)))
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
        let entries: Vec<BundleEntry> = docs
            .iter()
            .map(|d| BundleEntry {
                doc_id: d.doc_id,
                path: d.path.clone(),
                sha256: d.sha256.clone(),
                version: d.version,
                size: 6,
            })
            .collect();
        let mut writer = TarWriter::new();
        let mut bytes = writer.docs(&docs).unwrap();
        bytes.extend(writer.finish(&manifest(&entries)).unwrap());
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

    #[test]
    fn the_json_head_opens_the_docs_array_of_a_bundle_object() {
        let id = ProjectId::from_uuid(uuid::Uuid::from_u128(7));
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut body = json_head(id, "\"3\"", at);
        let mut first = true;
        let doc = |path: &str| BundleDoc {
            doc_id: toolkit_domain::DocId::from_uuid(uuid::Uuid::now_v7()),
            path: path.into(),
            content: "x".into(),
            sha256: "s".into(),
            version: 1,
        };
        body.extend(json_docs(vec![doc("a.md"), doc("b.md")], &mut first).unwrap());
        body.extend(json_docs(vec![doc("c.md")], &mut first).unwrap());
        body.extend_from_slice(b"]}");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["projectId"], id.as_uuid().to_string());
        assert_eq!(value["etag"], "\"3\"");
        assert_eq!(value["docs"].as_array().unwrap().len(), 3);
        assert_eq!(value["docs"][2]["path"], "c.md");
    }
}
