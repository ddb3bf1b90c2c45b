// Umbrella header: the whole public API of hugo-journal.
#pragma once

#include <hugo/checkpoint.hpp>
#include <hugo/coordinator.hpp>
#include <hugo/deterministic.hpp>
#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/event.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/maintenance.hpp>
#include <hugo/metrics.hpp>
#include <hugo/peers.hpp>
#include <hugo/replication.hpp>
#include <hugo/sink_database.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/time.hpp>
#include <hugo/tracing.hpp>
#include <hugo/typed_task_queue.hpp>
