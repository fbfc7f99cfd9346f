// One GPU, one process: tests take turns so that CUDA-graph captures never overlap another test's CUDA work.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]
