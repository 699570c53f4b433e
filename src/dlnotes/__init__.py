"""dlnotes: the tested package behind the textbook *Training deep neural networks*.

Every algorithm and worked example of the book is implemented here, tested against an
independent reference (PyTorch, SciPy, SymPy, exact enumeration, finite differences),
and imported by the chapter that teaches it.

Modules
-------
losses          loss functions and their gradients (chapter "Loss functions")
regularization  penalties, their gradients, the total objective ("Regularization penalties")
gradcheck       finite differences, relative errors, their cost and accuracy
optim           update rules and optimizers: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW
schedules       learning-rate schedules and warm-up
nesterov        the machine-checked rederivation of Nesterov momentum
landscapes      test functions: ill-conditioned quadratics, saddles, Rosenbrock
training        small NumPy classifiers and a minibatch training loop
datasets        small real data sets shipped inside installed packages
assignments     per-student assignments from the question bank, answer keys, grading
explorables     interactive figures that work live in Jupyter and statically in the HTML book
exercises       the question bank: seeded exercises with solutions and graders
notebooks       export chapters as Jupyter notebooks
bookbuild       building the book: chapters executed in parallel, the whole book as one PDF
cli             the ``dlnotes`` command line
"""

__version__ = "0.1.0"
