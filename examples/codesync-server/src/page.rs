//! The HTML served at `/<SESSION_ID>` to browsers (a plain page until the editor lands).

/// A minimal page naming the session and its WebSocket URL.
pub(crate) fn session_page(session: &str) -> String {
    let session = html_escape(session);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{session} · codesync</title></head>\n<body>\
         <h1>codesync: {session}</h1>\
         <p>This is session <code>{session}</code>. Its WebSocket is this same URL \
         (<code>ws://…/{session}</code>), speaking the Loro sync protocol.</p>\
         </body></html>\n"
    )
}

/// Session ids are already restricted to URL-safe characters; escaping anyway keeps the
/// page safe if that rule ever loosens.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
