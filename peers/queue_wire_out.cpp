// The queue API's encoders (peers/queue_wire.hpp): JSON written with JsonOut, no DOM.
#include "peers/queue_wire.hpp"

#include <hugo/event_json.hpp>

#include "core/base64.hpp"
#include "core/json_out.hpp"
#include "core/json_util.hpp"

#include <algorithm>

namespace hugo::peers {
namespace {

void write_payload(json::JsonOut& w, std::string& out, std::string_view payload, PayloadFormat format) {
  if (is_valid_utf8(payload)) {
    w.raw("\"payload\":").string(payload);
  } else {
    out += "\"payloadBase64\":\"";
    base64::encode(payload, out);
    out += '"';
  }
  if (format == PayloadFormat::Json) w.raw(",\"format\":\"json\"");
}

void write_token(json::JsonOut& w, const OwnershipToken& token) { w.string(token.to_string()); }

void write_error(std::string& out, const Error& error) { encode_error_json(error, out); }

void write_options(json::JsonOut& w, const EnqueueOptions& options) {
  if (options.origin.peer_id) w.raw(",\"peerId\":").string(*options.origin.peer_id);
  if (options.not_before) w.raw(",\"notBefore\":").time(*options.not_before);
  if (options.delay != Duration::zero()) {
    w.raw(",\"delayMs\":").integer(std::chrono::duration_cast<std::chrono::milliseconds>(options.delay).count());
  }
  if (options.priority != 0) w.raw(",\"priority\":").integer(options.priority);
}

}  // namespace

void encode_enqueue_request(const EnqueueRequest& request, std::string& out) {
  json::JsonOut w(out);
  out += '{';
  const bool all_text = std::all_of(request.payloads.begin(), request.payloads.end(),
                                    [](const std::string& p) { return is_valid_utf8(p); });
  if (!request.batch && !request.payloads.empty()) {
    write_payload(w, out, request.payloads.front(), request.options.format);
  } else {
    out += all_text ? "\"payloads\":[" : "\"payloadsBase64\":[";
    for (std::size_t i = 0; i < request.payloads.size(); ++i) {
      if (i > 0) out += ',';
      if (all_text) {
        w.string(request.payloads[i]);
      } else {
        out += '"';
        base64::encode(request.payloads[i], out);
        out += '"';
      }
    }
    out += ']';
    if (request.options.format == PayloadFormat::Json) out += ",\"format\":\"json\"";
  }
  write_options(w, request.options);
  if (request.wait.count() > 0) w.raw(",\"waitMs\":").integer(request.wait.count());
  out += '}';
}

void encode_lease_request(const LeaseRequest& request, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"owner\":").string(request.owner);
  w.raw(",\"max\":").integer(static_cast<std::int64_t>(request.max));
  w.raw(",\"waitMs\":").integer(request.wait.count());
  out += '}';
}

void encode_fail_request(const FailRequest& request, bool with_token, std::string& out) {
  json::JsonOut w(out);
  out += '{';
  if (with_token) {
    w.raw("\"token\":");
    write_token(w, request.token);
    out += ',';
  }
  out += "\"error\":";
  write_error(out, request.error);
  w.raw(",\"requeue\":").raw(request.requeue ? "true" : "false");
  if (request.retry_after) {
    w.raw(",\"retryAfterMs\":")
        .integer(std::chrono::duration_cast<std::chrono::milliseconds>(*request.retry_after).count());
  }
  out += '}';
}

void encode_token_list(const std::vector<OwnershipToken>& tokens, std::string& out) {
  json::JsonOut w(out);
  out += "{\"tokens\":[";
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) out += ',';
    write_token(w, tokens[i]);
  }
  out += "]}";
}

void encode_cancel_request(const std::string& reason, std::string& out) {
  if (reason.empty()) return;
  json::JsonOut w(out);
  w.raw("{\"reason\":").string(reason).raw("}");
}

void encode_pending_items(const std::vector<PendingItem>& items, std::string& out) {
  json::JsonOut w(out);
  out += "{\"items\":[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const PendingItem& item = items[i];
    if (i > 0) out += ',';
    w.raw("{\"taskId\":").integer(item.task_id).raw(",");
    write_payload(w, out, item.payload, item.payload_format);
    w.raw(",\"attempt\":").integer(item.attempt);
    w.raw(",\"enqueuedAt\":").time(item.enqueued_at);
    if (item.last_error) {
      out += ",\"lastError\":";
      write_error(out, *item.last_error);
    }
    if (item.last_token) {
      w.raw(",\"lastToken\":");
      write_token(w, *item.last_token);
    }
    if (item.available_at) w.raw(",\"availableAt\":").time(*item.available_at);
    if (item.priority != 0) w.raw(",\"priority\":").integer(item.priority);
    out += '}';
  }
  out += "]}";
}

void encode_leases(const std::vector<Lease>& leases, std::string& out) {
  json::JsonOut w(out);
  out += "{\"leases\":[";
  for (std::size_t i = 0; i < leases.size(); ++i) {
    const Lease& lease = leases[i];
    if (i > 0) out += ',';
    w.raw("{\"token\":");
    write_token(w, lease.token);
    w.raw(",\"taskId\":").integer(lease.token.task_id);
    w.raw(",\"attempt\":").integer(lease.attempt);
    w.raw(",\"queue\":").string(lease.queue);
    w.raw(",\"owner\":").string(lease.owner).raw(",");
    write_payload(w, out, lease.payload, lease.payload_format);
    w.raw(",\"enqueuedAt\":").time(lease.enqueued_at);
    w.raw(",\"grantedAt\":").time(lease.granted_at);
    w.raw(",\"expiresAt\":").time(lease.expires_at);
    if (lease.last_error) {
      out += ",\"lastError\":";
      write_error(out, *lease.last_error);
    }
    out += '}';
  }
  out += "]}";
}

void encode_task_ids(const std::vector<std::int64_t>& ids, std::string& out) {
  json::JsonOut w(out);
  out += "{\"taskIds\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    w.integer(ids[i]);
  }
  out += "]}";
}

void encode_keyed_enqueue(const KeyedEnqueue& result, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"taskId\":").integer(result.task_id).raw(",\"duplicate\":").raw(result.duplicate ? "true}" : "false}");
}

void encode_heartbeat(const HeartbeatResult& result, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"outcome\":").raw(result.outcome == HeartbeatResult::Outcome::Extended ? "\"extended\"" : "\"throttled\"");
  w.raw(",\"expiresAt\":").time(result.expires_at).raw("}");
}

std::string_view fail_outcome_name(FailOutcome outcome) {
  return outcome == FailOutcome::Requeued ? "requeued" : "deadLettered";
}

std::string_view cancel_outcome_name(CancelOutcome outcome) {
  return outcome == CancelOutcome::WasPending ? "wasPending" : "wasLeased";
}

void encode_outcome(std::string_view name, std::string& out) {
  out.append("{\"outcome\":\"").append(name).append("\"}");
}

void encode_dead_letters(const std::vector<DeadLetter>& dead, std::string& out) {
  json::JsonOut w(out);
  out += "{\"deadLetters\":[";
  for (std::size_t i = 0; i < dead.size(); ++i) {
    const DeadLetter& d = dead[i];
    if (i > 0) out += ',';
    w.raw("{\"taskId\":").integer(d.task_id).raw(",\"seq\":").integer(d.seq).raw(",");
    write_payload(w, out, d.payload, d.payload_format);
    w.raw(",\"attempt\":").integer(d.attempt);
    w.raw(",\"enqueuedAt\":").time(d.enqueued_at);
    w.raw(",\"deadLetteredAt\":").time(d.dead_lettered_at);
    out += ",\"error\":";
    write_error(out, d.error);
    if (d.last_token) {
      w.raw(",\"lastToken\":");
      write_token(w, *d.last_token);
    }
    out += '}';
  }
  out += "]}";
}

std::string error_body(const Error& error) {
  std::string body = "{\"error\":";
  encode_error_json(error, body);
  body += "}\n";
  return body;
}

}  // namespace hugo::peers
