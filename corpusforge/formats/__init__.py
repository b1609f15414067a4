"""Record formats that several commands share, below the pipeline and the labeller.

- instruction.py      the stage-2/3 instruction record (schemas/instruction.schema.json): built by instruct/ and the
                      LLM steps, read back by eval/ and train/
- task_ids.py         task names and their integer ids (stage 3's per-task adapters)
- multiple_choice/    exam questions in every published layout (MedQA, MedMCQA, CMExam, MMLU, mapped fields)
- pubmedqa.py         PubMedQA items in the original and Hub layouts (the labeller, decontamination, evaluation)
"""
