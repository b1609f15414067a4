"""See the data: one offline HTML report for anything corpusforge writes.

    corpusforge report out/stage1              a built dataset (funnel, lengths, languages, bad-case browser...)
    corpusforge report out/labels_pqa_u        a label output (labels, confidence, agreement, evaluation)
    corpusforge report runs/s1 runs/s2 runs/s3  training runs (loss, lr, grad norm, eval; stage by stage)
    corpusforge report ori_pqal.json           raw PubMedQA: the QA statistics of AntGLM-Med's Table 5

Reports are made from what the run recorded (manifest, stats, samples, metrics), never by re-running the work.
"""

from __future__ import annotations

from corpusforge.report.api import REPORT_NAME, detect_kind, write_report

__all__ = ["REPORT_NAME", "detect_kind", "write_report"]
