pub fn router() -> axum::Router<crate::api::SharedState> {
    axum::Router::new()
}
