//! Quirks of DingTalk's JSON that real answers show and a robust client must accept.

use serde_json::Value;

/// Oddities of DingTalk's real JSON, switched on with [`FakeDingTalk::set_quirks`].
///
/// The upstream documents show answers such as
/// `{"errcode":"0","result":{"exclusive_account_userid_list":"[\"zxxxx\",\"lixxxi\"]"}}`:
/// numbers sent as strings and lists sent as JSON-encoded strings. A client that decodes only
/// the tidy shape breaks on them; these switches make the fake send them.
///
/// ```
/// use dingtalk_login::testing::Quirks;
///
/// let quirks = Quirks { numbers_as_strings: true, ..Quirks::default() };
/// assert!(!quirks.lists_as_strings);
/// ```
///
/// [`FakeDingTalk::set_quirks`]: super::FakeDingTalk::set_quirks
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Every number in an answer is sent as a string: `"errcode":"0"`, `"sys_level":"1"`,
    /// `"expires_in":"7200"`.
    pub numbers_as_strings: bool,
    /// Every list in an answer is sent as a JSON-encoded string:
    /// `"exclusive_account_userid_list":"[\"a\",\"b\"]"`. The encoded list itself is left as
    /// it was (numbers inside it stay numbers).
    pub lists_as_strings: bool,
}

impl Quirks {
    /// Rewrites an answer the way these quirks say, just before it is sent.
    pub(super) fn apply(self, value: Value) -> Value {
        match value {
            Value::Number(n) if self.numbers_as_strings => Value::String(n.to_string()),
            Value::Array(items) if self.lists_as_strings => {
                Value::String(Value::Array(items).to_string())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.apply(v)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, self.apply(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}
