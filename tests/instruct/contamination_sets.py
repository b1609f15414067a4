"""Planted contamination and clean controls for measuring decontamination recall and precision.

- `vignettes(n, seed)`: MedQA-style clinical vignettes written here, sharing no item with any exam but reusing the
  boilerplate of USMLE questions (vital signs, "The lungs are clear to auscultation.", lab-value lists, the usual
  question stems) with numbers drawn at random: the clean control of the same style as MedQA.
- `near_duplicates(question, rng)`: the ways an evaluation item reaches training data lightly edited: a wrapper
  prompt around it, its numbers changed, a few words replaced, its question stem cut, its opening sentence
  rewritten, case and punctuation changed, and a combination of these.
"""

from __future__ import annotations

import random
import re

AGES = list(range(18, 86))
PEOPLE = [("man", "He", "His"), ("woman", "She", "Her")]
SETTINGS = ["comes to the physician", "comes to the emergency department", "is brought to the emergency department",
            "presents to the clinic", "comes to the office", "is evaluated in the hospital"]  # fmt: skip
COMPLAINTS = [
    "a 3-day history of fever and productive cough", "worsening shortness of breath on exertion",
    "a 2-week history of intermittent epigastric pain", "painless swelling of the left knee",
    "episodes of palpitations and lightheadedness", "a rash on both forearms that started after gardening",
    "progressive fatigue and pale stools", "sudden onset of severe headache while lifting weights",
    "blurred vision in the right eye", "increased thirst and frequent urination", "numbness of both feet",
    "a painful, red, swollen great toe", "recurrent nosebleeds", "difficulty swallowing solid food",
    "lower back pain radiating to the left leg", "a lump in the right breast noticed while showering",
    "confusion noticed by her daughter", "yellowing of the eyes", "a cough with blood-tinged sputum",
    "swelling of both ankles", "a burning sensation during urination", "hearing loss in the left ear",
    "a tremor of the right hand at rest", "weight loss despite increased appetite", "chest tightness at night",
    "abdominal distention and early satiety", "pain in the right upper quadrant after fatty meals",
    "muscle cramps and weakness", "a nonhealing ulcer on the heel", "double vision that worsens in the evening",
]  # fmt: skip
HISTORIES = [
    "{Pro} has a history of hypertension and type 2 diabetes mellitus.",
    "{Pro} has smoked one pack of cigarettes daily for {n2} years.",
    "There is no personal or family history of serious illness.",
    "{Pro} drinks {n1} beers on weekends.",
    "{Pos} medications include lisinopril and metformin.",
    "{Pro} returned from a trip to Mexico {n1} weeks ago.",
    "{Pos} last menstrual period was {n1} weeks ago.",
    "{Pro} underwent an appendectomy {n2} years ago.",
]
VITALS = [
    "{Pos} temperature is 3{n1}.{n1}°C (9{n1}.{n1}°F), pulse is {p}/min, respirations are {r}/min, and blood "
    "pressure is {s}/{d} mm Hg.",
    "{Pos} temperature is 9{n1}.{n1}°F (3{n1}.{n1}°C), blood pressure is {s}/{d} mmHg, pulse is {p}/min, "
    "respirations are {r}/min, and oxygen saturation is 9{n1}% on room air.",
    "{Pos} temperature is 3{n1}.{n1}°C (9{n1}.{n1}°F), pulse is {p}/min, and blood pressure is {s}/{d} mm Hg.",
    "Vital signs are within normal limits.",
    "{Pos} pulse is {p}/min and blood pressure is {s}/{d} mm Hg.",
]
EXAMS = [
    "The lungs are clear to auscultation.", "The abdomen is soft and nontender.",
    "Cardiac examination shows no abnormalities.", "Physical examination shows no abnormalities.",
    "The remainder of the examination shows no abnormalities.",
    "Pulse oximetry on room air shows an oxygen saturation of 9{n1}%.",
]  # fmt: skip
FINDINGS = [
    "There is tenderness over the {site}.", "A {n1}-cm firm, nontender mass is palpated in the {site}.",
    "Examination of the {site} shows erythema and warmth.", "There is decreased sensation over the {site}.",
    "Auscultation shows crackles at the {site}.", "An ulcer with rolled edges is seen on the {site}.",
]  # fmt: skip
SITES = ["left lower lobe", "right flank", "dorsum of the right foot", "medial aspect of the knee", "left axilla",
         "right upper quadrant", "lateral malleolus", "posterior neck", "suprapubic region", "left forearm"]  # fmt: skip
LABS = [
    "Laboratory studies show:\nHemoglobin 1{n1}.{n1} g/dL\nLeukocyte count {n1},{n3}/mm3\nPlatelet count "
    "2{n2},000/mm3\nSerum\nNa+ 13{n1} mEq/L\nCl- 10{n1} mEq/L\nK+ {n1}.{n1} mEq/L\nHCO3- 2{n1} mEq/L\n"
    "Urea nitrogen 1{n1} mg/dL\nCreatinine 0.{n1} mg/dL\nGlucose {n3} mg/dL",
    "Serum studies show:\nNa+ 13{n1} mEq/L\nK+ {n1}.{n1} mEq/L\nCl- 10{n1} mEq/L\nHCO3- 2{n1} mEq/L\n"
    "Glucose {n3} mg/dL\nCreatinine 1.{n1} mg/dL",
    "An ECG shows sinus rhythm.",
    "A chest x-ray shows no abnormalities.",
]
STEMS = [
    "Which of the following is the most likely diagnosis?",
    "Which of the following is the most appropriate next step in management?",
    "Which of the following is the most likely cause of this patient's symptoms?",
    "Which of the following is the best next step in management?",
    "Further evaluation of this patient is most likely to show which of the following findings?",
    "Which of the following is the most appropriate pharmacotherapy?",
]


DETAILS = [
    "a dry cough that wakes him at night", "a metallic taste", "pain that improves when leaning forward",
    "a cat scratch on the hand", "recent use of a tanning bed", "a new job at a battery factory",
    "a bite from a raccoon", "night sweats", "easy bruising", "a sensation of a foreign body in the throat",
    "an unintentional weight loss of 5 kg", "a sister with a kidney disease", "heat intolerance",
    "diarrhea after drinking milk", "a recent camping trip in Connecticut", "hoarseness", "itching after showers",
    "a stiff neck", "a craving for ice", "a swollen gum", "a history of kidney stones", "cold fingers in winter",
    "a fall from a ladder", "a recent course of clindamycin", "a painless rash on the palms", "frothy urine",
    "a recent dental extraction", "a father who died suddenly at 40", "pain in the jaw when chewing",
    "a habit of eating raw oysters", "a sore tongue", "morning stiffness lasting two hours", "a puffy face",
    "a tingling around the mouth", "a recent move from Guatemala", "pain when swallowing", "snoring",
    "a recent influenza vaccination", "a loss of the sense of smell", "a nail pitting", "a sunburn that blistered",
]  # fmt: skip


def detail_sentences(rng: random.Random, k: int = 2) -> list[str]:
    """Distinctive case details (what makes an evaluation item that item, beyond its boilerplate)."""
    return [f"The patient also mentions {', '.join(rng.sample(DETAILS, 3))}." for _ in range(k)]


def _fill(template: str, rng: random.Random, pro: str, pos: str) -> str:
    values = {
        "Pro": pro, "Pos": pos, "site": rng.choice(SITES), "n1": rng.randint(1, 9), "n2": rng.randint(10, 40),
        "n3": rng.randint(100, 999), "p": rng.randint(55, 130), "r": rng.randint(12, 28),
        "s": rng.randint(95, 170), "d": rng.randint(55, 100),
    }  # fmt: skip
    return template.format(**values)


def vignette(rng: random.Random) -> str:
    """One clean MedQA-style question: invented case, real boilerplate, random numbers."""
    noun, pro, pos = rng.choice(PEOPLE)
    parts = [f"A {rng.choice(AGES)}-year-old {noun} {rng.choice(SETTINGS)} because of {rng.choice(COMPLAINTS)}."]
    parts += detail_sentences(rng, rng.randint(1, 2))
    parts += [_fill(t, rng, pro, pos) for t in rng.sample(HISTORIES, rng.randint(1, 3))]
    parts.append(_fill(rng.choice(VITALS), rng, pro, pos))
    parts += [_fill(t, rng, pro, pos) for t in rng.sample(EXAMS, rng.randint(1, 3))]
    parts.append(_fill(rng.choice(FINDINGS), rng, pro, pos))
    if rng.random() < 0.6:
        parts.append(_fill(rng.choice(LABS), rng, pro, pos))
    parts.append(rng.choice(STEMS))
    return " ".join(parts)


def vignettes(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [vignette(rng) for _ in range(n)]


FILLER_WORDS = ["patient", "clinic", "recently", "mild", "several", "following", "evaluation", "noted"]


def _replace_words(text: str, k: int, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), min(k, len(words))):
        words[i] = rng.choice(FILLER_WORDS)
    return " ".join(words)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.?!])\s+", text.strip())


def near_duplicates(question: str, rng: random.Random) -> dict[str, str]:
    """The lightly edited copies of an evaluation question that decontamination must catch, by kind."""
    sentences = _sentences(question)
    words = question.split(" ")
    edits = max(1, min(5, len(words) // 30))  # one word in 30: a light edit, not a new question
    stem = sentences[-1] if len(sentences) > 2 and sentences[-1].endswith("?") else ""
    new_numbers = re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), question)
    return {
        "wrapped": f"Answer the following USMLE question and explain your reasoning.\n{question}\nThink step by step.",
        "numbers_changed": new_numbers,
        "words_replaced": _replace_words(question, edits, rng),
        "stem_cut": question[: len(question) - len(stem)].strip() if 0 < len(stem) < len(question) / 3 else question,
        "opening_rewritten": " ".join(["A patient was seen for evaluation of a new complaint.", *sentences[1:]])
        if len(sentences) > 3
        else "Clinical case: " + question,
        "case_and_punctuation": re.sub(r"[,;:]", "", question.upper()),
        "combined": "Question: " + _replace_words(new_numbers, edits, rng),
    }
