//! The OpenAPI document (`GET /openapi.json`): the operations' own annotations, completed here
//! with what every operation of a kind answers (one place for the rules of [`super::contract`],
//! the extractors and the authentication), and bodies that are bytes described as bytes.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Content, RefOr, ResponseBuilder};

use super::{admin, auth, conflicts, health, policies, regions, schema, sync};
use crate::error::Code;

#[derive(OpenApi)]
#[openapi(
    info(title = "doudi API", description = "兜底: social-assistance field work. Errors are `{code, message, message_en}`."),
    paths(
        auth::login, auth::enrol, auth::refresh, auth::logout, auth::me,
        regions::get_region, regions::get_children,
        admin::import_regions, admin::create_account, admin::list_accounts, admin::update_account,
        admin::list_devices, admin::revoke_device, admin::list_audit,
        admin::create_enrolment_code, admin::list_enrolment_codes, admin::revoke_enrolment_code,
        sync::sync, schema::get_schema, schema::get_identity_key,
        policies::get_book, policies::resolve, policies::put_layer,
        crate::http::review::review_visit, crate::http::review::review_queue,
        crate::http::review::list_reports, crate::http::review::assign_report,
        crate::http::review::close_report, crate::http::review::my_tasks,
        crate::http::review::decide_benefit, crate::http::review::record_objection,
        crate::http::review::record_appraisal,
        crate::http::review::record_county_visit,
        crate::http::review::record_extension,
        crate::http::review::register_report, crate::http::review::verify_report,
        crate::http::review::refer_report, crate::http::review::report_history,
        crate::http::search::search_households, crate::http::exports::export,
        conflicts::document_conflicts,
        health::healthz, health::readyz, crate::http::metrics::metrics,
        crate::http::blobs::missing, crate::http::blobs::upload_status,
        crate::http::blobs::upload_chunk, crate::http::blobs::download,
        crate::http::monitoring::import, crate::http::monitoring::list_runs,
        crate::http::monitoring::get_run, crate::http::monitoring::list_alerts,
        crate::http::monitoring::get_alert, crate::http::monitoring::dispose,
        crate::http::monitoring::comparison,
        crate::http::temporary_aid::open, crate::http::temporary_aid::from_report,
        crate::http::temporary_aid::list, crate::http::temporary_aid::get,
        crate::http::temporary_aid::give_aid, crate::http::temporary_aid::request_approval,
        crate::http::temporary_aid::decide, crate::http::temporary_aid::pay,
        crate::http::temporary_aid::close,
        crate::http::statistics::quarterly, crate::http::tekun::care_gaps,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth, &ErrorAnswers),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi().to_pretty_json().unwrap_or_default(),
    )
        .into_response()
}

/// Completes every operation with the error answers its kind gives, and describes bodies that
/// are not JSON or text as bytes.
struct ErrorAnswers;

/// The error answers of an operation that its annotation need not repeat: (status, codes).
fn common_errors(op: &Operation) -> Vec<(u16, Vec<Code>)> {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let body = op.request_body.as_ref();
    let json_body = body.is_some_and(|b| b.content.contains_key("application/json"));
    let mut out = vec![(408, vec![Code::Timeout])];
    let mut bad = Vec::new();
    if json_body {
        bad.extend([Code::MalformedJson, Code::UnknownField]);
    }
    if params || body.is_some() {
        bad.push(Code::InvalidRequest);
    }
    if !bad.is_empty() {
        out.push((400, bad));
    }
    if secured {
        out.push((
            401,
            vec![
                Code::TokenMissing,
                Code::TokenInvalid,
                Code::TokenExpired,
                Code::SessionEnded,
            ],
        ));
        out.push((
            403,
            vec![Code::DeviceRevoked, Code::AccountDisabled, Code::Denied],
        ));
    }
    if body.is_some() {
        out.push((413, vec![Code::BodyTooLarge]));
        out.push((415, vec![Code::UnsupportedMediaType]));
    }
    out
}

/// Raw bytes.
fn binary() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .build(),
    ))
}

/// A media type whose body is bytes, not JSON or text.
fn is_bytes(media: &str) -> bool {
    !(media.starts_with("application/json") || media.starts_with("text/"))
}

fn error_body() -> Content {
    Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
        "ErrorBody",
    ))))
}

fn complete(op: &mut Operation) {
    if let Some(body) = op.request_body.as_mut() {
        for (media, content) in body.content.iter_mut() {
            if is_bytes(media) {
                content.schema = Some(binary());
            }
        }
    }
    let common = common_errors(op);
    let answers = &mut op.responses.responses;
    for (status, codes) in common {
        let listed: Vec<String> = codes.iter().map(|c| format!("`{}`", c.as_str())).collect();
        answers.entry(status.to_string()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(listed.join(", "))
                    .content("application/json", error_body())
                    .build(),
            )
        });
    }
    for (status, answer) in answers.iter_mut() {
        let RefOr::T(answer) = answer else { continue };
        if status.starts_with('4') || status.starts_with('5') {
            // An error answer is always the error body, whatever the annotation said.
            answer.content.clear();
            answer
                .content
                .insert("application/json".to_string(), error_body());
        } else {
            for (media, content) in answer.content.iter_mut() {
                if is_bytes(media) {
                    content.schema = Some(binary());
                }
            }
        }
    }
}

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut()
            && let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("ErrorBody")
            && let Some(RefOr::T(Schema::Object(code))) = body.properties.get_mut("code")
        {
            code.enum_values = Some(Code::ALL.iter().map(|c| c.as_str().into()).collect());
        }
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                complete(op);
            }
        }
    }
}
