// The queue API's decoders (peers/queue_wire.hpp), on the checked field reads of
// queue_wire_fields.hpp. Lists are walked in loops; nothing recurses on the input.
#include "peers/queue_wire.hpp"
#include "peers/queue_wire_fields.hpp"

#include <hugo/error_codes.hpp>

#include "core/json_util.hpp"

#include <charconv>
#include <limits>

namespace hugo::peers {
namespace {

using namespace wire_fields;

constexpr std::int64_t kMaxMs = std::int64_t{1000} * 365 * 24 * 3600 * 1000;  // about 1000 years
constexpr std::int64_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

Result<OwnershipToken> token_at(const Value& v, const std::string& where) {
  if (!v.IsString()) return Error::validation(where + " must be a lease token string");
  return parse_token(text_of(v));
}

Result<OwnershipToken> token_field(Fields& f, const char* key) {
  HUGO_ASSIGN_OR_RETURN(auto text, f.string(key));
  if (!text) return Error::validation(f.where() + ": \"" + key + "\" is required").with("field", key);
  return parse_token(*text);
}

// Runs `read(Fields&)` on the object, then refuses unknown fields.
template <class T, class Read>
Result<T> read_object(std::string_view body, Read&& read) {
  rj::Document doc;
  HUGO_TRY(parse_object(body, doc));
  Fields f(doc, "the body");
  HUGO_ASSIGN_OR_RETURN(T value, read(f));
  HUGO_TRY(f.finish());
  return value;
}

// Calls `each(const Value&, where)` for every element of the array at `key` (required).
template <class Each>
Status each_element(Fields& f, const char* key, Each&& each) {
  HUGO_ASSIGN_OR_RETURN(const Value* list, f.array(key));
  if (list == nullptr) return Error::validation(f.where() + ": \"" + key + "\" (an array) is required");
  for (rj::SizeType i = 0; i < list->Size(); ++i) {
    HUGO_TRY(each((*list)[i], std::string(key) + "[" + std::to_string(i) + "]"));
  }
  return ok_status();
}

Result<PendingItem> pending_item(const Value& v, const std::string& where) {
  if (!v.IsObject()) return Error::validation(where + " must be an object");
  Fields f(v, where);
  PendingItem item;
  HUGO_ASSIGN_OR_RETURN(auto task_id, f.integer("taskId", 0, kInt64Max));
  item.task_id = task_id.value_or(0);
  HUGO_ASSIGN_OR_RETURN(item.payload, f.payload(item.payload_format));
  HUGO_ASSIGN_OR_RETURN(auto attempt, f.integer("attempt", 1, kInt32Max));
  item.attempt = static_cast<std::int32_t>(attempt.value_or(1));
  HUGO_ASSIGN_OR_RETURN(auto enqueued, f.time("enqueuedAt"));
  if (enqueued) item.enqueued_at = *enqueued;
  HUGO_ASSIGN_OR_RETURN(item.last_error, f.error("lastError"));
  HUGO_ASSIGN_OR_RETURN(auto last_token, f.string("lastToken"));
  if (last_token) {
    HUGO_ASSIGN_OR_RETURN(auto token, parse_token(*last_token));
    item.last_token = token;
  }
  HUGO_ASSIGN_OR_RETURN(item.available_at, f.time("availableAt"));
  HUGO_ASSIGN_OR_RETURN(auto priority, f.integer("priority", kInt32Min, kInt32Max));
  item.priority = static_cast<std::int32_t>(priority.value_or(0));
  HUGO_TRY(f.finish());
  return item;
}

Result<Lease> lease_at(const Value& v, const std::string& where) {
  if (!v.IsObject()) return Error::validation(where + " must be an object");
  Fields f(v, where);
  Lease lease;
  HUGO_ASSIGN_OR_RETURN(lease.token, token_field(f, "token"));
  HUGO_ASSIGN_OR_RETURN(auto task_id, f.integer("taskId", 0, kInt64Max));
  HUGO_ASSIGN_OR_RETURN(auto attempt, f.integer("attempt", 1, kInt32Max));
  lease.attempt = static_cast<std::int32_t>(attempt.value_or(lease.token.attempt));
  (void)task_id;  // the token holds it
  HUGO_ASSIGN_OR_RETURN(auto queue, f.string("queue"));
  lease.queue = queue.value_or("");
  HUGO_ASSIGN_OR_RETURN(auto owner, f.string("owner"));
  lease.owner = owner.value_or("");
  HUGO_ASSIGN_OR_RETURN(lease.payload, f.payload(lease.payload_format));
  HUGO_ASSIGN_OR_RETURN(auto enqueued, f.time("enqueuedAt"));
  HUGO_ASSIGN_OR_RETURN(auto granted, f.time("grantedAt"));
  HUGO_ASSIGN_OR_RETURN(auto expires, f.time("expiresAt"));
  lease.enqueued_at = enqueued.value_or(Timestamp{});
  lease.granted_at = granted.value_or(Timestamp{});
  lease.expires_at = expires.value_or(Timestamp{});
  HUGO_ASSIGN_OR_RETURN(lease.last_error, f.error("lastError"));
  HUGO_TRY(f.finish());
  return lease;
}

Result<FailRequest> fail_fields(Fields& f, bool with_token) {
  FailRequest request;
  if (with_token) {
    HUGO_ASSIGN_OR_RETURN(request.token, token_field(f, "token"));
  }
  HUGO_ASSIGN_OR_RETURN(auto error, f.error("error"));
  if (!error) return Error::validation(f.where() + ": \"error\" (the failure, {\"code\",\"message\"}) is required");
  request.error = std::move(*error);
  HUGO_ASSIGN_OR_RETURN(auto requeue, f.boolean("requeue"));
  request.requeue = requeue.value_or(true);
  HUGO_ASSIGN_OR_RETURN(auto retry_after, f.integer("retryAfterMs", 0, kMaxMs));
  if (retry_after) request.retry_after = std::chrono::milliseconds(*retry_after);
  return request;
}

}  // namespace

Result<OwnershipToken> parse_token(std::string_view text) {
  auto bad = [&] {
    return Error::validation("'" + std::string(text.substr(0, 120)) +
                             "' is not a lease token (TASK:ATTEMPT:LEASE-GUID, as a lease reply gives it)")
        .with("token", std::string(text.substr(0, 120)));
  };
  const std::size_t first = text.find(':');
  const std::size_t second = first == std::string_view::npos ? first : text.find(':', first + 1);
  if (second == std::string_view::npos) return bad();
  OwnershipToken token;
  const std::string_view task = text.substr(0, first);
  const std::string_view attempt = text.substr(first + 1, second - first - 1);
  auto [t_end, t_ec] = std::from_chars(task.data(), task.data() + task.size(), token.task_id);
  auto [a_end, a_ec] = std::from_chars(attempt.data(), attempt.data() + attempt.size(), token.attempt);
  if (t_ec != std::errc() || t_end != task.data() + task.size() || token.task_id <= 0) return bad();
  if (a_ec != std::errc() || a_end != attempt.data() + attempt.size() || token.attempt <= 0) return bad();
  auto lease = lease_id_from_guid(text.substr(second + 1));
  if (!lease.ok()) return bad();
  token.lease_id = *lease;
  return token;
}

Result<EnqueueRequest> decode_enqueue_request(std::string_view body) {
  return read_object<EnqueueRequest>(body, [](Fields& f) -> Result<EnqueueRequest> {
    EnqueueRequest request;
    HUGO_ASSIGN_OR_RETURN(const Value* texts, f.array("payloads"));
    HUGO_ASSIGN_OR_RETURN(const Value* encoded, f.array("payloadsBase64"));
    if (texts == nullptr && encoded == nullptr) {
      HUGO_ASSIGN_OR_RETURN(auto payload, f.payload(request.options.format));
      request.payloads.push_back(std::move(payload));
    } else {
      if (texts != nullptr && encoded != nullptr) {
        return Error::validation("give a batch as one of \"payloads\" (texts) and \"payloadsBase64\" (bytes)");
      }
      request.batch = true;
      const bool base64 = encoded != nullptr;
      const Value& list = base64 ? *encoded : *texts;
      for (rj::SizeType i = 0; i < list.Size(); ++i) {
        if (!list[i].IsString()) return Error::validation("the body: every payload of a batch must be a string");
        std::string text = text_of(list[i]);
        if (!is_valid_utf8(text)) return Error::validation("the body: payload " + std::to_string(i) + " is not valid UTF-8");
        if (base64) {
          auto bytes = base64::decode(text);
          if (!bytes) return Error::validation("payloadsBase64[" + std::to_string(i) + "] is not standard base64");
          text = std::move(*bytes);
        }
        request.payloads.push_back(std::move(text));
      }
      HUGO_ASSIGN_OR_RETURN(request.options.format, f.format());
    }
    HUGO_ASSIGN_OR_RETURN(auto peer, f.string("peerId"));
    if (peer) request.options.origin.peer_id = std::move(*peer);
    HUGO_ASSIGN_OR_RETURN(request.options.not_before, f.time("notBefore"));
    HUGO_ASSIGN_OR_RETURN(auto delay, f.integer("delayMs", 0, kMaxMs));
    request.options.delay = std::chrono::milliseconds(delay.value_or(0));
    HUGO_ASSIGN_OR_RETURN(auto priority, f.integer("priority", kInt32Min, kInt32Max));
    request.options.priority = static_cast<std::int32_t>(priority.value_or(0));
    HUGO_ASSIGN_OR_RETURN(auto wait, f.integer("waitMs", 0, kMaxMs));
    request.wait = std::chrono::milliseconds(wait.value_or(0));
    return request;
  });
}

Result<LeaseRequest> decode_lease_request(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return LeaseRequest{};
  return read_object<LeaseRequest>(body, [](Fields& f) -> Result<LeaseRequest> {
    LeaseRequest request;
    HUGO_ASSIGN_OR_RETURN(auto owner, f.string("owner"));
    request.owner = owner.value_or("");
    HUGO_ASSIGN_OR_RETURN(auto max, f.integer("max", 1, static_cast<std::int64_t>(kMaxLeaseBatch)));
    request.max = static_cast<std::size_t>(max.value_or(1));
    HUGO_ASSIGN_OR_RETURN(auto wait, f.integer("waitMs", 0, kMaxMs));
    request.wait = std::chrono::milliseconds(wait.value_or(0));
    return request;
  });
}

Result<FailRequest> decode_fail_request(std::string_view body) {
  return read_object<FailRequest>(body, [](Fields& f) { return fail_fields(f, false); });
}

Result<std::vector<FailRequest>> decode_fail_batch(std::string_view body) {
  using List = std::vector<FailRequest>;
  return read_object<List>(body, [](Fields& f) -> Result<List> {
    List list;
    HUGO_TRY(each_element(f, "failures", [&list](const Value& v, const std::string& where) -> Status {
      if (!v.IsObject()) return Error::validation(where + " must be an object");
      Fields item(v, where);
      HUGO_ASSIGN_OR_RETURN(auto request, fail_fields(item, true));
      HUGO_TRY(item.finish());
      list.push_back(std::move(request));
      return ok_status();
    }));
    return list;
  });
}

Result<std::vector<OwnershipToken>> decode_token_list(std::string_view body) {
  using List = std::vector<OwnershipToken>;
  return read_object<List>(body, [](Fields& f) -> Result<List> {
    List tokens;
    HUGO_TRY(each_element(f, "tokens", [&tokens](const Value& v, const std::string& where) -> Status {
      HUGO_ASSIGN_OR_RETURN(auto token, token_at(v, where));
      tokens.push_back(token);
      return ok_status();
    }));
    return tokens;
  });
}

Result<std::string> decode_cancel_request(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  return read_object<std::string>(body, [](Fields& f) -> Result<std::string> {
    HUGO_ASSIGN_OR_RETURN(auto reason, f.string("reason"));
    return reason.value_or("");
  });
}

Result<std::vector<PendingItem>> decode_pending_items(std::string_view body) {
  using List = std::vector<PendingItem>;
  return read_object<List>(body, [](Fields& f) -> Result<List> {
    List items;
    HUGO_TRY(each_element(f, "items", [&items](const Value& v, const std::string& where) -> Status {
      HUGO_ASSIGN_OR_RETURN(auto item, pending_item(v, where));
      items.push_back(std::move(item));
      return ok_status();
    }));
    return items;
  });
}

Result<std::vector<Lease>> decode_leases(std::string_view body) {
  using List = std::vector<Lease>;
  return read_object<List>(body, [](Fields& f) -> Result<List> {
    List leases;
    HUGO_TRY(each_element(f, "leases", [&leases](const Value& v, const std::string& where) -> Status {
      HUGO_ASSIGN_OR_RETURN(auto lease, lease_at(v, where));
      leases.push_back(std::move(lease));
      return ok_status();
    }));
    return leases;
  });
}

Result<std::vector<std::int64_t>> decode_task_ids(std::string_view body) {
  using List = std::vector<std::int64_t>;
  return read_object<List>(body, [](Fields& f) -> Result<List> {
    List ids;
    HUGO_TRY(each_element(f, "taskIds", [&ids](const Value& v, const std::string& where) -> Status {
      if (!v.IsInt64()) return Error::validation(where + " must be a task id");
      ids.push_back(v.GetInt64());
      return ok_status();
    }));
    return ids;
  });
}

Result<KeyedEnqueue> decode_keyed_enqueue(std::string_view body) {
  return read_object<KeyedEnqueue>(body, [](Fields& f) -> Result<KeyedEnqueue> {
    KeyedEnqueue result;
    HUGO_ASSIGN_OR_RETURN(auto id, f.integer("taskId", 1, kInt64Max));
    HUGO_ASSIGN_OR_RETURN(auto duplicate, f.boolean("duplicate"));
    if (!id) return Error::validation("the reply has no taskId");
    result.task_id = *id;
    result.duplicate = duplicate.value_or(false);
    return result;
  });
}

Result<HeartbeatResult> decode_heartbeat(std::string_view body) {
  return read_object<HeartbeatResult>(body, [](Fields& f) -> Result<HeartbeatResult> {
    HeartbeatResult result;
    HUGO_ASSIGN_OR_RETURN(auto outcome, f.string("outcome"));
    HUGO_ASSIGN_OR_RETURN(auto expires, f.time("expiresAt"));
    if (!outcome || (*outcome != "extended" && *outcome != "throttled") || !expires) {
      return Error::validation("the reply is not a heartbeat result");
    }
    result.outcome = *outcome == "extended" ? HeartbeatResult::Outcome::Extended : HeartbeatResult::Outcome::Throttled;
    result.expires_at = *expires;
    return result;
  });
}

Result<FailOutcome> decode_fail_outcome(std::string_view body) {
  return read_object<FailOutcome>(body, [](Fields& f) -> Result<FailOutcome> {
    HUGO_ASSIGN_OR_RETURN(auto outcome, f.string("outcome"));
    if (outcome == "requeued") return FailOutcome::Requeued;
    if (outcome == "deadLettered") return FailOutcome::DeadLettered;
    return Error::validation("the reply is not a fail outcome");
  });
}

Result<CancelOutcome> decode_cancel_outcome(std::string_view body) {
  return read_object<CancelOutcome>(body, [](Fields& f) -> Result<CancelOutcome> {
    HUGO_ASSIGN_OR_RETURN(auto outcome, f.string("outcome"));
    if (outcome == "wasPending") return CancelOutcome::WasPending;
    if (outcome == "wasLeased") return CancelOutcome::WasLeased;
    return Error::validation("the reply is not a cancel outcome");
  });
}

Result<RemoteQueueCounts> decode_queue_counts(std::string_view body) {
  return read_object<RemoteQueueCounts>(body, [](Fields& f) -> Result<RemoteQueueCounts> {
    RemoteQueueCounts counts;
    HUGO_ASSIGN_OR_RETURN(auto queue, f.string("queue"));
    (void)queue;
    HUGO_ASSIGN_OR_RETURN(auto pending, f.integer("pending", 0, kInt64Max));
    HUGO_ASSIGN_OR_RETURN(auto leased, f.integer("leased", 0, kInt64Max));
    HUGO_ASSIGN_OR_RETURN(auto dead, f.integer("deadLetters", 0, kInt64Max));
    HUGO_ASSIGN_OR_RETURN(const Value* pressure, f.object("backpressure"));
    if (!pending || !leased || !dead) return Error::validation("the reply is not a queue's counts");
    counts.pending = *pending;
    counts.leased = *leased;
    counts.dead_letters = *dead;
    if (pressure != nullptr) {
      const auto active = pressure->FindMember("active");
      counts.backpressure = active != pressure->MemberEnd() && active->value.IsBool() && active->value.GetBool();
    }
    return counts;
  });
}

std::optional<Error> decode_error_body(std::string_view body) {
  rj::Document doc;
  if (!parse_object(body, doc).ok()) return std::nullopt;
  Fields f(doc, "the reply");
  auto error = f.error("error");
  if (!error.ok() || !error->has_value()) return std::nullopt;
  return std::move(**error);
}

}  // namespace hugo::peers
