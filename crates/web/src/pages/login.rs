//! The access-token form: a correct token sets an HttpOnly, SameSite=Strict session cookie.

use super::{Nav, layout};
use crate::security::{COOKIE, safe_next};
use crate::server::Shared;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Next {
    pub next: Option<String>,
}

fn form_page(next: &str, failed: bool, enabled: bool) -> super::Page {
    layout(
        Nav::None,
        "Sign in",
        html! {
            section.panel.login {
                h1 { "Sign in to Quarry" }
                @if !enabled {
                    p { "This server needs no token." } p { a href="/" { "Go to the SOC feed" } }
                } @else {
                    @if failed { div.alert.error role="alert" { "That token is not correct." } }
                    form method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Access token" }
                        input type="password" id="token" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Sign in" }
                    }
                    p.muted.small { "The token was given to " code { "quarry serve" } " with " code { "--token" } " or " code { "QUARRY_TOKEN" } "." }
                }
            }
        },
    )
}

pub async fn form(
    State(state): State<Shared>,
    next: Result<Query<Next>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = safe_next(next.ok().and_then(|n| n.0.next).as_deref());
    form_page(&next, false, state.access.requires_token()).into_response()
}

#[derive(Deserialize)]
pub struct Login {
    pub token: String,
    pub next: Option<String>,
}

pub async fn submit(State(state): State<Shared>, Form(login): Form<Login>) -> Response {
    let next = safe_next(login.next.as_deref());
    if !state.access.check_token(&login.token) {
        // A little friction against guessing.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return (
            StatusCode::UNAUTHORIZED,
            form_page(&next, true, state.access.requires_token()),
        )
            .into_response();
    }
    let mut resp = Redirect::to(&next).into_response();
    if let Some(c) = state.access.session_cookie()
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

pub async fn logout() -> Response {
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
