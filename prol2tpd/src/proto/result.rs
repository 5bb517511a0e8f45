//! Result and error codes of the Result Code AVP, declared once.
//!
//! RFC 2661 §4.4.2 defines the Result Code values for StopCCN and CDN and the
//! General Error Codes; RFC 3931 §5.4.2 renames some and adds CDN codes 13–16
//! and error code 9; RFC 3308 adds StopCCN 8 and CDN 12 (DiffServ). Each table
//! below is the single source for both the constants and their names.

/// One row of a code table: value and the RFC's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeName {
    /// The code value on the wire.
    pub code: u16,
    /// The RFC description, shortened.
    pub name: &'static str,
}

/// Result Code values for StopCCN (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
pub mod stop_ccn {
    /// General request to clear control connection.
    pub const GENERAL_REQUEST_TO_CLEAR: u16 = 1;
    /// General error; the Error Code indicates the problem.
    pub const GENERAL_ERROR: u16 = 2;
    /// Control channel already exists.
    pub const CONTROL_CHANNEL_EXISTS: u16 = 3;
    /// Requester is not authorized to establish a control channel.
    pub const NOT_AUTHORIZED: u16 = 4;
    /// The requester's protocol version is not supported; the Error Code
    /// carries the highest version supported.
    pub const UNSUPPORTED_VERSION: u16 = 5;
    /// Requester is being shut down.
    pub const SHUTTING_DOWN: u16 = 6;
    /// Finite state machine error (v3: "or timeout").
    pub const FSM_ERROR: u16 = 7;
    /// Control connection due to mismatching CCDS value (RFC 3308).
    pub const MISMATCHING_CCDS: u16 = 8;

    /// The table of StopCCN result codes and their names.
    pub static TABLE: &[super::CodeName] = &[
        super::CodeName { code: 0, name: "reserved" },
        super::CodeName { code: GENERAL_REQUEST_TO_CLEAR, name: "general request to clear control connection" },
        super::CodeName { code: GENERAL_ERROR, name: "general error" },
        super::CodeName { code: CONTROL_CHANNEL_EXISTS, name: "control channel already exists" },
        super::CodeName { code: NOT_AUTHORIZED, name: "requester is not authorized" },
        super::CodeName { code: UNSUPPORTED_VERSION, name: "protocol version not supported" },
        super::CodeName { code: SHUTTING_DOWN, name: "requester is being shut down" },
        super::CodeName { code: FSM_ERROR, name: "finite state machine error or timeout" },
        super::CodeName { code: MISMATCHING_CCDS, name: "mismatching CCDS value" },
    ];
}

/// Result Code values for CDN (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
pub mod cdn {
    /// Call disconnected due to loss of carrier (v3: or circuit disconnect).
    pub const LOST_CARRIER: u16 = 1;
    /// Disconnected for the reason indicated in the Error Code.
    pub const GENERAL_ERROR: u16 = 2;
    /// Disconnected for administrative reasons.
    pub const ADMIN: u16 = 3;
    /// Appropriate facilities unavailable (temporary condition).
    pub const NO_RESOURCES_TEMP: u16 = 4;
    /// Appropriate facilities unavailable (permanent condition).
    pub const NO_RESOURCES_PERM: u16 = 5;
    /// Invalid destination.
    pub const INVALID_DEST: u16 = 6;
    /// Call failed due to no carrier detected.
    pub const NO_CARRIER: u16 = 7;
    /// Call failed due to detection of a busy signal.
    pub const BUSY: u16 = 8;
    /// Call failed due to lack of a dial tone.
    pub const NO_DIAL_TONE: u16 = 9;
    /// Call was not established within time allotted by LAC.
    pub const TIMEOUT: u16 = 10;
    /// Call was connected but no appropriate framing was detected.
    pub const NO_FRAMING: u16 = 11;
    /// Disconnecting call due to mismatching SDS value (RFC 3308).
    pub const MISMATCHING_SDS: u16 = 12;
    /// Session not established due to losing tie breaker (RFC 3931).
    pub const LOST_TIE_BREAKER: u16 = 13;
    /// Session not established due to unsupported PW type (RFC 3931).
    pub const UNSUPPORTED_PW_TYPE: u16 = 14;
    /// Sequencing required without valid L2-Specific Sublayer (RFC 3931).
    pub const SEQUENCING_WITHOUT_L2SS: u16 = 15;
    /// Finite state machine error or timeout (RFC 3931).
    pub const FSM_ERROR: u16 = 16;

    /// The table of CDN result codes and their names.
    pub static TABLE: &[super::CodeName] = &[
        super::CodeName { code: 0, name: "reserved" },
        super::CodeName { code: LOST_CARRIER, name: "loss of carrier or circuit disconnect" },
        super::CodeName { code: GENERAL_ERROR, name: "general error" },
        super::CodeName { code: ADMIN, name: "administrative reasons" },
        super::CodeName { code: NO_RESOURCES_TEMP, name: "facilities unavailable (temporary)" },
        super::CodeName { code: NO_RESOURCES_PERM, name: "facilities unavailable (permanent)" },
        super::CodeName { code: INVALID_DEST, name: "invalid destination" },
        super::CodeName { code: NO_CARRIER, name: "no carrier detected" },
        super::CodeName { code: BUSY, name: "busy signal" },
        super::CodeName { code: NO_DIAL_TONE, name: "no dial tone" },
        super::CodeName { code: TIMEOUT, name: "not established within time allotted" },
        super::CodeName { code: NO_FRAMING, name: "no appropriate framing detected" },
        super::CodeName { code: MISMATCHING_SDS, name: "mismatching SDS value" },
        super::CodeName { code: LOST_TIE_BREAKER, name: "lost tie breaker" },
        super::CodeName { code: UNSUPPORTED_PW_TYPE, name: "unsupported PW type" },
        super::CodeName { code: SEQUENCING_WITHOUT_L2SS, name: "sequencing required without valid L2-Specific Sublayer" },
        super::CodeName { code: FSM_ERROR, name: "finite state machine error or timeout" },
    ];
}

/// General Error Codes (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
pub mod error {
    /// No general error.
    pub const NO_GENERAL_ERROR: u16 = 0;
    /// No control connection exists yet for this pair.
    pub const NO_CONTROL_CONNECTION: u16 = 1;
    /// Length is wrong.
    pub const BAD_LENGTH: u16 = 2;
    /// A field value was out of range or a reserved field was non-zero.
    pub const BAD_VALUE: u16 = 3;
    /// Insufficient resources to handle this operation now.
    pub const NO_RESOURCE: u16 = 4;
    /// The Session ID is invalid in this context.
    pub const INVALID_SESSION_ID: u16 = 5;
    /// A generic vendor-specific error occurred.
    pub const VENDOR_SPECIFIC: u16 = 6;
    /// Try another peer.
    pub const TRY_ANOTHER: u16 = 7;
    /// Shut down due to receipt of an unknown AVP with the M bit set.
    pub const UNKNOWN_MANDATORY_AVP: u16 = 8;
    /// Try another directed (RFC 3931 §5.4.2 era registry).
    pub const TRY_ANOTHER_DIRECTED: u16 = 9;

    /// The table of general error codes and their names.
    pub static TABLE: &[super::CodeName] = &[
        super::CodeName { code: NO_GENERAL_ERROR, name: "no general error" },
        super::CodeName { code: NO_CONTROL_CONNECTION, name: "no control connection exists yet" },
        super::CodeName { code: BAD_LENGTH, name: "length is wrong" },
        super::CodeName { code: BAD_VALUE, name: "field value out of range or reserved field non-zero" },
        super::CodeName { code: NO_RESOURCE, name: "insufficient resources" },
        super::CodeName { code: INVALID_SESSION_ID, name: "invalid session id" },
        super::CodeName { code: VENDOR_SPECIFIC, name: "vendor-specific error" },
        super::CodeName { code: TRY_ANOTHER, name: "try another" },
        super::CodeName { code: UNKNOWN_MANDATORY_AVP, name: "unknown AVP with M bit set" },
        super::CodeName { code: TRY_ANOTHER_DIRECTED, name: "try another directed" },
    ];
}

/// Looks `code` up in `table`; "unknown" when absent.
fn lookup(table: &[CodeName], code: u16) -> &'static str {
    table.iter().find(|c| c.code == code).map_or("unknown", |c| c.name)
}

/// The description of a StopCCN Result Code, or "unknown".
pub fn stop_ccn_result_name(code: u16) -> &'static str {
    lookup(stop_ccn::TABLE, code)
}

/// The description of a CDN Result Code, or "unknown".
pub fn cdn_result_name(code: u16) -> &'static str {
    lookup(cdn::TABLE, code)
}

/// The description of a General Error Code, or "unknown".
pub fn error_name(code: u16) -> &'static str {
    lookup(error::TABLE, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(stop_ccn_result_name(stop_ccn::FSM_ERROR), "finite state machine error or timeout");
        assert_eq!(cdn_result_name(cdn::ADMIN), "administrative reasons");
        assert_eq!(error_name(error::UNKNOWN_MANDATORY_AVP), "unknown AVP with M bit set");
        assert_eq!(error_name(999), "unknown");
    }

    #[test]
    fn tables_sorted_and_unique() {
        for t in [stop_ccn::TABLE, cdn::TABLE, error::TABLE] {
            assert!(t.windows(2).all(|w| w[0].code < w[1].code));
        }
    }
}
