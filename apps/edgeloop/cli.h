// Shared plumbing for the edgeloop command line: error reporting, JSON output, progress.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::cli {

using Json = nlohmann::ordered_json;

// Thrown (only inside apps/) to leave a command with an error message and exit status 1.
struct CommandError {
  std::string message;
};

template <class T>
T unwrap(Result<T> r, std::string_view what = {}) {
  if (!r) throw CommandError{what.empty() ? r.error().message : fmt::format("{}: {}", what, r.error().message)};
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

inline void print_json(const Json& j) { std::puts(j.dump(2).c_str()); }

// One-line progress on stderr, only when stderr is a terminal.
void progress(std::string_view label, int64_t done, int64_t total);

// --backends and --threads of the commands that load a model to run it.
struct RuntimeFlags {
  std::string backends;  // comma-separated; empty = what this CPU supports
  int threads = 1;
  runtime::LoadOptions load() const;
};
void add_runtime_flags(CLI::App* command, RuntimeFlags& flags, bool threads = true);

// Registers each command group on the root app.
void add_model_commands(CLI::App& app);
void add_quantize_commands(CLI::App& model);  // under `model`
void add_conformance_commands(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_keys_commands(CLI::App& app);
void add_repo_commands(CLI::App& app);
void add_device_commands(CLI::App& app);
void add_simulate_camera_command(CLI::App* device);  // under `device`
void add_sensors_command(CLI::App* device);          // under `device`
void add_delta_commands(CLI::App& app);
void add_stage_server_command(CLI::App& app);

}  // namespace edgeloop::cli
