"""Knowledge-graph triples -> sampled subgraphs -> natural-language training text (the `kg.subgraphs` step).

The AntGLM-Med paper notes that a model learns poorly from raw triples, so it "samples sub-graphs of different
scales and rewrites them into natural language texts". The step collects every triple of the source into one
networkx graph, samples subgraphs with the strategies the recipe lists, and verbalizes each through relation
templates (corpusforge/pipeline/steps/kg_templates.yaml, extended or overridden by the recipe).

The modules, lowest first: `strategies` (the recipe's sampling strategies), `templates` (relation templates and
how a sentence is phrased), `graph` (the interned triple graph), `sampling` (subgraphs around seed nodes) and
`subgraphs` (the registered step: load, sample, verbalize, count).
"""
