// report.html for a run folder: one self-contained file (inline CSS and inline SVG; no scripts, fonts or
// other network resources) that shows what a run measured and how it was produced. Reads only results.json,
// so it depends on nothing above this layer and can be regenerated from an old run folder.
//
// results.json schema (every key optional unless noted; unknown keys are ignored):
//   "title":    string                     heading of the page (default "xfmr run")
//   "command":  string                     the command line that produced the run, shown verbatim
//   "d":        integer                    input dimension; marks k = d on the plots and picks table rows
//   "k":        [number, ...]              numbers of in-context examples (required when "error" is present)
//   "methods":  [string, ...]              display order of the methods (default: the order of "error"'s
//   keys,
//                                          which nlohmann::json sorts alphabetically)
//   "error":    {method: [number|null]}    mean error per k for each method (null = not available, e.g. NaN)
//   "error_lo", "error_hi": {method: [number|null]}   band around "error" (e.g. a 95% interval), same
//   lengths;
//                                          a method needs both to get a band
//   "metric":   string                     "accuracy": the "error" curves hold accuracies (the Boolean ICL
//                                          classes): one linear plot, the highest value per row highlighted
//   "train":    {"step": [number], "loss": [number|null], other: [number|null] ...}   training curves; every
//                                          array as long as "step" is drawn (loss first), on a log-10 axis
//   "summary":  [{"k": number, method: number|null, ...}]   rows of the summary table; when absent the table
//   is
//                                          built from "error" at k = 0, d/2 (rounded down), d, 2d and the
//                                          last k (those present in "k")
//   "config":   object                     the resolved configuration, shown flattened ("model.n_layer": 4)
//   "timing":   object                     timings or other run statistics, shown flattened
//   "notes":    [string]                   free-text remarks, shown as a list
//   "sections": [{"id": string, "html": string}]   sections rendered by another producer (e.g. run/icl_probe.h),
//                                          inserted verbatim after the training plot, in order
// Malformed content (a wrong type, arrays of different lengths) throws xfmr::Error naming the offending key.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace xfmr::report {

// The whole report page for `results` (schema above). Deterministic: the same input gives the same bytes.
std::string render_report_html(const nlohmann::json& results);

// Reads RUN_DIR/results.json and writes RUN_DIR/report.html atomically (io::write_file_atomic): a failure at
// any point leaves an existing report.html untouched. Throws xfmr::Error whose one-line message names the
// file and the problem (missing, unreadable, not JSON, not matching the schema, cannot write).
void write_report(const std::string& run_dir);

}  // namespace xfmr::report
