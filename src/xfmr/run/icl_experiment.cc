#include "xfmr/run/icl_experiment.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xfmr/core/check.h"
#include "xfmr/io/config.h"
#include "xfmr/io/file_util.h"
#include "xfmr/report/format.h"
#include "xfmr/run/icl_probe.h"

namespace fs = std::filesystem;

namespace xfmr {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& msg) {
  throw Error("experiment " + source + ": " + field + (field.empty() ? "" : ": ") + msg);
}

void check_keys(const Json& obj, const std::vector<std::string>& allowed, const std::string& source,
                const std::string& where) {
  if (!obj.is_object()) fail(source, where, "must be an object");
  for (const auto& it : obj.items())
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(source, (where.empty() ? "" : where + ".") + it.key(), "unknown field (known: " + list + ")");
    }
}

std::string get_string(const Json& obj, const std::string& key, const std::string& source, const std::string& where,
                       bool required) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) fail(source, where + key, "missing (a string is required)");
    return "";
  }
  if (!it->is_string()) fail(source, where + key, "must be a string, got " + it->dump());
  return it->get<std::string>();
}

// A JSON scalar as the text of a --set value.
std::string scalar_text(const Json& v, const std::string& source, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  fail(source, field, "values must be JSON scalars (string, number, bool), got " + v.dump());
}

std::vector<std::string> overrides(const Json& obj, const std::string& source, const std::string& field) {
  if (!obj.is_object()) fail(source, field, "must be an object of dotted keys, e.g. {\"task.d\": 5}");
  std::vector<std::string> out;
  for (const auto& it : obj.items()) out.push_back(it.key() + "=" + scalar_text(it.value(), source, field + "." + it.key()));
  return out;
}

int64_t get_int(const Json& v, const std::string& source, const std::string& field) {
  if (!v.is_number_integer()) fail(source, field, "must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

double get_number(const Json& v, const std::string& source, const std::string& field) {
  if (!v.is_number()) fail(source, field, "must be a number, got " + v.dump());
  return v.get<double>();
}

Json plain(const IclConfig& cfg) { return Json::parse(config::to_json(cfg).dump()); }

// "a.b" paths of a nested object's leaves.
void flatten(const Json& j, const std::string& prefix, std::map<std::string, Json>& out) {
  if (j.is_object())
    for (const auto& it : j.items()) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  else
    out[prefix] = j;
}

std::string first_difference(const Json& a, const Json& b) {
  std::map<std::string, Json> fa, fb;
  flatten(a, "", fa);
  flatten(b, "", fb);
  for (const auto& [k, v] : fa) {
    const auto it = fb.find(k);
    if (it == fb.end()) return k + " (missing in the folder)";
    if (it->second != v) return k + " = " + it->second.dump() + " in the folder, " + v.dump() + " now";
  }
  for (const auto& [k, v] : fb)
    if (!fa.count(k)) return k + " (only in the folder)";
  return "";
}

// The part of a config that determines training (everything but eval.*).
std::string training_key(const IclConfig& cfg) {
  Json j = plain(cfg);
  j.erase("eval");
  return j.dump();
}

}  // namespace

double icl_experiment_curve_at(const nlohmann::json& run, const std::string& method, int64_t k) {
  const nlohmann::json* c = nullptr;
  if (method.rfind("gap:", 0) == 0) {
    const std::string b = method.substr(4);
    if (run.contains("gap") && run["gap"].contains(b)) c = &run["gap"][b]["mean"];
  } else if (run.contains("error") && run["error"].contains(method)) {
    c = &run["error"][method];
  }
  if (!c || k < 0 || k >= static_cast<int64_t>(c->size()) || (*c)[static_cast<size_t>(k)].is_null()) return NAN;
  return (*c)[static_cast<size_t>(k)].get<double>();
}

IclExperiment parse_icl_experiment(const std::string& name, const std::string& source, const std::string& text) {
  IclExperiment e;
  e.name = name;
  e.source = source;
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) fail(source, "", "not valid JSON");
  check_keys(j, {"title", "paper", "claim", "base", "presets", "runs", "report"}, source, "");
  e.title = get_string(j, "title", source, "", true);
  e.paper = get_string(j, "paper", source, "", true);
  e.claim = get_string(j, "claim", source, "", true);
  if (j.contains("base")) {
    e.base = j["base"];
    IclConfig probe;
    try {
      config::from_json(probe, e.base);
    } catch (const Error& err) {
      fail(source, "base", err.what());
    }
  }
  if (!j.contains("presets") || !j["presets"].is_object() || j["presets"].empty())
    fail(source, "presets", "missing: an object with at least \"cpu\" (minutes on one core) and \"paper\"");
  for (const auto& it : j["presets"].items()) e.presets[it.key()] = overrides(it.value(), source, "presets." + it.key());
  if (!e.presets.count("cpu")) fail(source, "presets", "needs a \"cpu\" preset");
  if (!j.contains("runs") || !j["runs"].is_array() || j["runs"].empty()) fail(source, "runs", "missing or empty array");
  for (size_t i = 0; i < j["runs"].size(); ++i) {
    const Json& r = j["runs"][i];
    const std::string where = "runs[" + std::to_string(i) + "]";
    check_keys(r, {"name", "group", "set", "presets", "probe"}, source, where);
    IclExperimentRun run;
    run.name = get_string(r, "name", source, where + ".", true);
    const bool ok = !run.name.empty() && std::all_of(run.name.begin(), run.name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    if (!ok) fail(source, where + ".name", "'" + run.name + "' must be non-empty [a-z0-9_-] (it names a folder)");
    for (const auto& o : e.runs)
      if (o.name == run.name) fail(source, where + ".name", "'" + run.name + "' is used twice");
    run.group = r.contains("group") ? get_string(r, "group", source, where + ".", true) : "runs";
    if (r.contains("probe")) {
      if (!r["probe"].is_boolean()) fail(source, where + ".probe", "must be true or false");
      run.probe = r["probe"].get<bool>();
    }
    if (r.contains("set")) run.set = overrides(r["set"], source, where + ".set");
    if (r.contains("presets")) {
      if (!r["presets"].is_object()) fail(source, where + ".presets", "must be an object: preset -> overrides");
      for (const auto& it : r["presets"].items()) {
        if (!e.presets.count(it.key()))
          fail(source, where + ".presets." + it.key(), "no such preset in the top-level \"presets\"");
        run.presets[it.key()] = overrides(it.value(), source, where + ".presets." + it.key());
      }
    }
    e.runs.push_back(std::move(run));
  }
  if (j.contains("report")) {
    const Json& rep = j["report"];
    check_keys(rep, {"k", "methods", "checks"}, source, "report");
    if (rep.contains("k")) {
      if (!rep["k"].is_array()) fail(source, "report.k", "must be an array of integers");
      for (size_t i = 0; i < rep["k"].size(); ++i) {
        const int64_t k = get_int(rep["k"][i], source, "report.k[" + std::to_string(i) + "]");
        if (k < 0) fail(source, "report.k[" + std::to_string(i) + "]", "must be >= 0");
        e.report_k.push_back(k);
      }
    }
    if (rep.contains("methods")) {
      if (!rep["methods"].is_array()) fail(source, "report.methods", "must be an array of method names");
      for (const auto& m : rep["methods"]) {
        if (!m.is_string()) fail(source, "report.methods", "must hold strings, got " + m.dump());
        e.report_methods.push_back(m.get<std::string>());
      }
    }
    if (rep.contains("checks")) {
      if (!rep["checks"].is_array()) fail(source, "report.checks", "must be an array of objects");
      for (size_t i = 0; i < rep["checks"].size(); ++i) {
        const Json& c = rep["checks"][i];
        const std::string where = "report.checks[" + std::to_string(i) + "]";
        check_keys(c, {"what", "run", "method", "k", "max", "than", "than_run", "factor"}, source, where);
        IclExperimentCheck ck;
        ck.what = get_string(c, "what", source, where + ".", true);
        ck.run = get_string(c, "run", source, where + ".", true);
        if (c.contains("method")) ck.method = get_string(c, "method", source, where + ".", true);
        if (!c.contains("k")) fail(source, where + ".k", "missing (an integer)");
        ck.k = get_int(c["k"], source, where + ".k");
        if (c.contains("max")) ck.max = get_number(c["max"], source, where + ".max");
        if (c.contains("than")) ck.than = get_string(c, "than", source, where + ".", true);
        ck.than_run = c.contains("than_run") ? get_string(c, "than_run", source, where + ".", true) : ck.run;
        if (c.contains("factor")) ck.factor = get_number(c["factor"], source, where + ".factor");
        if ((ck.max >= 0) == !ck.than.empty())
          fail(source, where, "needs exactly one of \"max\" (>= 0) and \"than\"");
        for (const std::string& rn : {ck.run, ck.than_run})
          if (std::none_of(e.runs.begin(), e.runs.end(), [&](const IclExperimentRun& r) { return r.name == rn; }))
            fail(source, where + ".run", "no run named '" + rn + "'");
        e.checks.push_back(std::move(ck));
      }
    }
  }
  // Every run must resolve under every preset: typos in keys surface now, not after an hour of training.
  for (const auto& [preset, sets] : e.presets)
    for (const IclExperimentRun& run : e.runs) resolve_icl_experiment_run(e, preset, run);
  return e;
}

IclExperiment load_icl_experiment(const std::string& name) {
  if (name.size() > 5 && name.substr(name.size() - 5) == ".json") {
    std::ifstream f(name);
    XF_CHECK(f.good(), "experiment ", name, ": cannot read the file");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_icl_experiment(fs::path(name).stem().string(), name, ss.str());
  }
  std::string known;
  for (const EmbeddedExperimentFile& f : embedded_icl_experiment_files()) {
    if (name == f.name) return parse_icl_experiment(f.name, f.path, f.text);
    known += (known.empty() ? "" : ", ") + std::string(f.name);
  }
  throw Error("icl: unknown experiment '" + name + "' (known: " + (known.empty() ? "none" : known) +
              "; or a path to a .json file)");
}

IclConfig resolve_icl_experiment_run(const IclExperiment& e, const std::string& preset, const IclExperimentRun& run,
                                     const std::vector<std::string>& user_sets) {
  const auto p = e.presets.find(preset);
  if (p == e.presets.end()) {
    std::string known;
    for (const auto& [k, v] : e.presets) known += (known.empty() ? "" : ", ") + k;
    fail(e.source, "", "no preset '" + preset + "' (known: " + known + ")");
  }
  IclConfig cfg;
  config::from_json(cfg, e.base);
  auto apply = [&](const std::vector<std::string>& sets, const std::string& field) {
    for (const std::string& s : sets) {
      try {
        config::apply_override(cfg, s);
      } catch (const Error& err) {
        fail(e.source, field, err.what());
      }
    }
  };
  apply(p->second, "presets." + preset);
  std::string where = "run '" + run.name + "'";
  for (size_t i = 0; i < e.runs.size(); ++i)
    if (e.runs[i].name == run.name) where = "runs[" + std::to_string(i) + "]";
  apply(run.set, where + ".set");
  if (const auto rp = run.presets.find(preset); rp != run.presets.end())
    apply(rp->second, where + ".presets." + preset);
  try {
    for (const std::string& s : user_sets) config::apply_override(cfg, s);
  } catch (const Error& err) {
    throw Error("icl --experiment " + e.name + ": --set: " + err.what());
  }
  try {
    config::validate(cfg);
    cfg.validate();
  } catch (const Error& err) {
    fail(e.source, where + " (" + run.name + ", preset " + preset + ")", err.what());
  }
  return cfg;
}

nlohmann::json run_icl_experiment(const IclExperiment& e, const IclExperimentOptions& opt) {
  XF_CHECK(!opt.out.empty(), "icl --experiment: --out DIR is required");
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };
  // The selected runs (--runs), then every config resolved before anything trains.
  std::vector<IclExperimentRun> runs;
  for (const std::string& n : opt.only) {
    std::string known;
    for (const IclExperimentRun& r : e.runs) known += (known.empty() ? "" : ", ") + r.name;
    XF_CHECK(std::any_of(e.runs.begin(), e.runs.end(), [&](const IclExperimentRun& r) { return r.name == n; }),
             "icl --experiment ", e.name, ": --runs: no run named '", n, "' (runs: ", known, ")");
  }
  for (const IclExperimentRun& r : e.runs)
    if (opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), r.name) != opt.only.end()) runs.push_back(r);
  std::vector<IclConfig> cfgs;
  for (const IclExperimentRun& run : runs) cfgs.push_back(resolve_icl_experiment_run(e, opt.preset, run, opt.sets));
  fs::create_directories(opt.out);

  Json summary;
  summary["experiment"] = e.name;
  summary["title"] = e.title;
  summary["paper"] = e.paper;
  summary["claim"] = e.claim;
  summary["preset"] = opt.preset;
  summary["command"] = opt.command;
  summary["user_set"] = opt.sets;
  summary["runs"] = Json::array();
  std::map<std::string, std::string> trained;  // training key -> run folder that holds it

  for (size_t i = 0; i < runs.size(); ++i) {
    const IclExperimentRun& run = runs[i];
    const IclConfig& cfg = cfgs[i];
    const std::string dir = (fs::path(opt.out) / run.name).string();
    char tag_buf[48];  // "[i/n] " (snprintf: GCC 12 raises a false -Wrestrict on the chained string concatenation)
    std::snprintf(tag_buf, sizeof tag_buf, "[%zu/%zu] ", i + 1, runs.size());
    const std::string tag = tag_buf + run.name;
    const Json want = plain(cfg);
    Json res;
    bool reused = false, resume = false;
    if (fs::exists(dir + "/config.json")) {
      // Read as `xfmr icl --resume` does (defaults <- file), so a folder written before a key existed still
      // matches when the new key has its default value.
      std::string diff;
      try {
        IclConfig have;
        config::from_json(have, Json::parse(io::read_file(dir + "/config.json")));
        diff = first_difference(want, plain(have));
      } catch (const std::exception& err) {
        diff = std::string("config.json unreadable: ") + err.what();
      }
      XF_CHECK(diff.empty(), "icl --experiment: run folder '", dir, "' holds a different config (", diff,
               "); delete it or use another --out");
      if (fs::exists(dir + "/results.json")) {
        const Json r = Json::parse(io::read_file(dir + "/results.json"), nullptr, false);
        if (!r.is_discarded() && !r.value("interrupted", true) && r.value("steps_done", int64_t{-1}) == cfg.train.steps) {
          res = r;
          reused = true;
        }
      }
      resume = !reused;
    } else if (fs::exists(dir)) {
      XF_CHECK(fs::is_directory(dir) && fs::is_empty(dir), "icl --experiment: '", dir,
               "' exists but is not a run folder of this experiment (no config.json); delete it or use another --out");
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (reused) {
      log(tag + ": reusing the finished run in " + dir);
    } else {
      fs::create_directories(dir);
      const std::string key = training_key(cfg);
      const auto shared = trained.find(key);
      if (!resume && shared != trained.end() && fs::exists(shared->second + "/checkpoints")) {
        // Same training, different evaluation: start from the trained run's final checkpoint.
        log(tag + ": same training as " + fs::path(shared->second).filename().string() +
            "; copying its checkpoint and evaluating only");
        fs::copy(shared->second + "/checkpoints", dir + "/checkpoints", fs::copy_options::recursive);
        fs::copy_file(shared->second + "/metrics.jsonl", dir + "/metrics.jsonl", fs::copy_options::overwrite_existing);
        config::save_config(cfg, dir + "/config.json");
        resume = true;
      } else {
        log(tag + ": " + (resume ? "resuming" : "training") + " " + cfg.task.kind + ", " + cfg.model.kind + " " +
            std::to_string(cfg.model.n_layer) + " layers, d = " + std::to_string(cfg.task.d) + ", " +
            std::to_string(cfg.train.steps) + " steps -> " + dir);
      }
      IclProgress hooks;
      const int64_t every = std::max<int64_t>(1, cfg.train.steps / 10);
      hooks.on_step = [&](const StepInfo& s) {
        if (s.step % every == 0 || s.step == cfg.train.steps) {
          char buf[160];
          std::snprintf(buf, sizeof buf, "%s: step %lld/%lld loss %.4f", tag.c_str(), static_cast<long long>(s.step),
                        static_cast<long long>(cfg.train.steps), s.loss);
          log(buf);
        }
      };
      hooks.on_stage = [&](const std::string& s) { log(tag + ": " + s); };
      res = run_icl(cfg, dir, resume, opt.command + "  (run " + run.name + ")", hooks);
      XF_CHECK(!res.value("interrupted", false), "icl --experiment: run ", run.name,
               " was interrupted; rerun the same command to resume it");
    }
    trained.emplace(training_key(cfg), dir);
    if (run.probe) {
      // Fu et al.'s layer -> algorithm map: probes.json in the run folder, its summary in the run's row.
      if (!reused || !fs::exists(dir + "/probes.json")) {
        log(tag + ": probing the layers (xfmr icl probe)");
        probe_icl_run(dir, IclProbeOptions{}, opt.command + "  (probe " + run.name + ")");
      }
      res = Json::parse(io::read_file(dir + "/results.json"));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Json r;
    r["name"] = run.name;
    r["group"] = run.group;
    r["folder"] = run.name;
    r["reused"] = reused;
    r["set"] = run.set;
    for (const char* k : {"task_kind", "train_task_kind", "metric", "error_normalizer", "d", "model_kind", "k",
                          "methods", "error", "error_lo", "error_hi", "gap", "steps_done", "timing", "probes"})
      if (res.contains(k)) r[k] = res[k];
    r["seconds_this_call"] = secs;
    const auto& tr = cfg;
    r["shape"] = {{"n_points", tr.task.n_points}, {"n_layer", tr.model.n_layer}, {"n_head", tr.model.n_head},
                  {"n_embd", tr.model.n_embd}, {"steps", tr.train.steps}, {"batch", tr.task.batch}};
    char buf[200];
    const int64_t last = res.contains("k") ? static_cast<int64_t>(res["k"].size()) - 1 : 0;
    std::snprintf(buf, sizeof buf, "%s: done (%.0f s); transformer error at k=%lld: %s", tag.c_str(), secs,
                  static_cast<long long>(last), report::format_number(icl_experiment_curve_at(res, "transformer", last)).c_str());
    log(buf);
    summary["runs"].push_back(r);
  }

  // Checks.
  summary["checks"] = Json::array();
  for (const IclExperimentCheck& c : e.checks) {
    const Json *run = nullptr, *other = nullptr;
    for (const Json& r : summary["runs"]) {
      if (r["name"] == c.run) run = &r;
      if (r["name"] == c.than_run) other = &r;
    }
    if (!run || !other) {
      const std::string missing = !run ? c.run : c.than_run;
      summary["checks"].push_back(Json{{"what", c.what}, {"run", c.run}, {"method", c.method}, {"k", c.k},
                                       {"skipped", "run " + missing + " not selected (--runs)"}});
      log("check SKIPPED: " + c.what + " (run " + missing + " not selected)");
      continue;
    }
    const double v = icl_experiment_curve_at(*run, c.method, c.k);
    Json cj{{"what", c.what}, {"run", c.run}, {"method", c.method}, {"k", c.k}, {"value", std::isfinite(v) ? Json(v) : Json()}};
    bool pass = false;
    if (c.than.empty()) {
      cj["max"] = c.max;
      pass = std::isfinite(v) && v <= c.max;
    } else {
      const double o = icl_experiment_curve_at(*other, c.than, c.k);
      cj["than"] = c.than;
      cj["than_run"] = c.than_run;
      cj["factor"] = c.factor;
      cj["than_value"] = std::isfinite(o) ? Json(o) : Json();
      pass = std::isfinite(v) && std::isfinite(o) && c.factor * v <= o;
    }
    cj["pass"] = pass;
    summary["checks"].push_back(cj);
    log(std::string("check ") + (pass ? "PASS" : "FAIL") + ": " + c.what + " (" + c.run + " " + c.method + " k=" +
        std::to_string(c.k) + ": " + report::format_number(v) + ")");
  }
  summary["report_k"] = e.report_k;
  summary["report_methods"] = e.report_methods;
  io::write_file_atomic(opt.out + "/results.json", summary.dump(1));
  io::write_file_atomic(opt.out + "/report.html", render_icl_experiment_html(summary));
  return summary;
}

}  // namespace xfmr
