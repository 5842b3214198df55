//! Form pieces both tabs use: problems placed at the field they concern, labelled inputs, and
//! field checks that show `engine::config`'s messages.

use iced::widget::{column, text};
use iced::{Element, Length};

/// Where in a tab a problem is shown: next to the field or button it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// The source picker (Server tab).
    Source,
    /// The host / server address field.
    Host,
    /// The port field.
    Port,
    /// The checkcode field.
    Checkcode,
    /// The *Record to* file field (Receiver tab).
    File,
    /// The output device picker for *Listen* (Receiver tab).
    Output,
    /// The Icecast URL and password fields (Server tab).
    Icecast,
    /// The *Private (TLS + key)* switch and the access-key field (both tabs).
    Private,
    /// The Start / Connect button.
    Action,
}

/// An error in words, and where the window shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where it is shown.
    pub spot: Spot,
    /// What went wrong and what to do, in words.
    pub text: String,
}

impl Problem {
    /// A problem shown at `spot`.
    pub fn at(spot: Spot, text: impl Into<String>) -> Self {
        Self {
            spot,
            text: text.into(),
        }
    }
}

/// Forgets `problem` if it is shown at `spot` (the user changed what it concerns).
pub fn clear_problem(problem: &mut Option<Problem>, spot: Spot) {
    if problem.as_ref().is_some_and(|p| p.spot == spot) {
        *problem = None;
    }
}

/// The text of `problem` if it is shown at `spot`.
pub fn problem_at(problem: Option<&Problem>, spot: Spot) -> Option<String> {
    problem.filter(|p| p.spot == spot).map(|p| p.text.clone())
}

/// One labelled text field of a form: (label, placeholder, value, widget id, input message, error).
pub type FormField<'a, M> = (
    &'a str,
    &'a str,
    &'a str,
    &'static str,
    fn(String) -> M,
    Option<String>,
);

/// A text input that, when `editable`, sends `on` as it is edited and `submit` on Enter.
pub fn input<'a, M: Clone + 'a>(
    placeholder: &str,
    value: &str,
    id: &'static str,
    on: fn(String) -> M,
    editable: bool,
    submit: M,
) -> iced::widget::TextInput<'a, M> {
    let t = iced::widget::text_input(placeholder, value)
        .id(id)
        .padding(6);
    if editable {
        t.on_input(on).on_submit(submit)
    } else {
        t
    }
}

/// A field's error in small red text (an empty line when valid, so the layout does not jump).
pub fn field_error<'a, M: 'a>(error: Option<String>) -> Element<'a, M> {
    match error {
        Some(e) => text(e).size(12).style(text::danger).into(),
        None => text("").size(12).into(),
    }
}

/// A warning in small amber text (nothing when `None`).
pub fn field_warning<'a, M: 'a>(warning: Option<String>) -> Element<'a, M> {
    match warning {
        Some(w) => text(w).size(12).style(text::warning).into(),
        None => iced::widget::space().into(),
    }
}

/// A row of labelled fields, each with its error under it; `portions` are their relative widths.
pub fn form_row<'a, M: Clone + 'a, const N: usize>(
    fields: [FormField<'a, M>; N],
    portions: [u16; N],
    editable: bool,
    submit: M,
) -> Element<'a, M> {
    iced::widget::row(fields.into_iter().zip(portions).map(
        |((label, placeholder, value, id, on, error), portion)| {
            column![
                text(label),
                input(placeholder, value, id, on, editable, submit.clone()),
                field_error(error)
            ]
            .spacing(4)
            .width(Length::FillPortion(portion))
            .into()
        },
    ))
    .spacing(12)
    .into()
}

/// A text field parsed: its value when valid, its error otherwise.
#[derive(Debug, Clone)]
pub struct Field<T> {
    /// The parsed value.
    pub value: Option<T>,
    /// Why it is invalid.
    pub error: Option<String>,
}

impl<T> Field<T> {
    /// Whether the field is valid.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Parses `v` with `f` into a [`Field`].
pub fn field<T>(v: &str, f: impl Fn(&str) -> Result<T, String>) -> Field<T> {
    match f(v) {
        Ok(x) => Field {
            value: Some(x),
            error: None,
        },
        Err(e) => Field {
            value: None,
            error: Some(e),
        },
    }
}

/// The reason of a configuration error, without the name and value the field already shows.
fn reason(e: engine::Error) -> String {
    match e {
        engine::Error::Config { reason, .. } => reason,
        e => e.to_string(),
    }
}

/// A host name or address, checked by [`engine::config::parse_host`].
///
/// # Errors
/// A message when empty or containing spaces.
pub fn validate_host(v: &str) -> Result<String, String> {
    engine::config::parse_host("host", v).map_err(reason)
}

/// A TCP port, 1 to 65535.
///
/// # Errors
/// A message otherwise.
pub fn validate_port(v: &str) -> Result<u16, String> {
    engine::config::parse_port("port", v)
        .map_err(|_| "a port is a number from 1 to 65535".to_string())
}

/// The web player's port: empty for no web player, else a TCP port other than the stream's
/// (`stream_port`, compared when it is valid).
///
/// # Errors
/// A message otherwise.
pub fn validate_web_port(v: &str, stream_port: &str) -> Result<Option<u16>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let port = engine::config::parse_port("web port", v).map_err(|_| {
        "the web player's port is a number from 1 to 65535 (empty: off)".to_string()
    })?;
    if validate_port(stream_port) == Ok(port) {
        return Err(format!(
            "the web player needs a port of its own ({port} is the stream's)"
        ));
    }
    Ok(Some(port))
}

/// A checkcode: a 32-bit signed integer.
///
/// # Errors
/// A message otherwise.
pub fn validate_checkcode(v: &str) -> Result<i32, String> {
    engine::config::parse_checkcode("checkcode", v)
        .map_err(|_| "a whole number (the same on both ends)".to_string())
}
