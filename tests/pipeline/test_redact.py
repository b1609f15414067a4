"""clean.redact_emails: a step declared once (its name in @register, its parameters in __init__)."""

import pytest
from datatrove.data import Document
from pydantic import ValidationError

from corpusforge.pipeline.registry import registered
from corpusforge.pipeline.steps.redact import RedactEmails


def test_addresses_are_replaced_and_other_at_signs_are_kept():
    docs = [
        Document(text="Correspondence: j.doe+pmc@med.example.ac.uk (J. Doe).", id="1"),
        Document(text="Dose 5 mg @ 8 h; see @handle and a@b.", id="2"),
    ]
    out = list(RedactEmails().run(iter(docs)))
    assert out[0].text == "Correspondence: [EMAIL] (J. Doe)."
    assert out[1].text == "Dose 5 mg @ 8 h; see @handle and a@b."


def test_the_registered_name_sets_the_type_and_the_signature_sets_the_parameters():
    step = registered()["clean.redact_emails"]
    assert step.cls is RedactEmails and RedactEmails.name == "clean.redact_emails"
    params = step.params.model_validate({"type": "clean.redact_emails", "placeholder": "<mail>"})
    assert step.cls(**params.model_dump(exclude={"type"})).placeholder == "<mail>"
    assert step.params.model_validate({"type": "clean.redact_emails"}).placeholder == "[EMAIL]"
    with pytest.raises(ValidationError):
        step.params.model_validate({"type": "clean.redact_emails", "placeholder": 3, "unknown": 1})
