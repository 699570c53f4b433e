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
curvature       Hessians by finite differences, exactly for the book's models, and as Hessian-vector products
convexity       midpoint tests, composition rules, permutation symmetry of hidden units
debugging       checks of a training run: initial loss, overfitting a subset, the first non-finite value
linesearch      exact, backtracking (Armijo), Wolfe, bracketing, golden-section and parabolic line searches
newton          Newton's method, damped Newton, and the cost of a Newton step
quasi_newton    BFGS and L-BFGS: the secant condition, both updates, the two-loop recursion
landscapes      test functions: ill-conditioned quadratics, saddles, Rosenbrock
training        small NumPy classifiers and a minibatch training loop
conv            convolution and cross-correlation as sums, and the layers built from them
pooling         max and average pooling, forward and backward ("Convolutional networks")
cnn             convolutional layers, the book's small CNN, and its cost
activations     activation functions, forward and backward ("Activations and initialization")
initialization  weight initialization, and a deep MLP to watch it work
transfer        the shipped pre-trained CNN, probes and fine-tuning ("Transfer learning", "Fine-tuning")
tuning          search spaces, random and grid search, the range test, update ratios ("The tuning recipe")
dropout         dropout (keep probability p) and DropConnect, the exact expectation by enumeration
batchnorm       batch normalization in train and eval mode, forward and backward; a deep MLP with it
averaging       weight decay as shrinkage, Polyak and EMA weight averages, ensembles, snapshot ensembles
early_stopping  patience, the best checkpoint, the two ways to retrain on all the data
augmentation    flips, crops, colour jitter, PCA colour noise, cutout, mixup, fractional max pooling, stochastic depth
datasets        small real data sets shipped inside installed packages
assignments     per-student assignments from the question bank, answer keys, grading
explorables     interactive figures that work live in Jupyter and statically in the HTML book
exercises       the question bank: seeded exercises with solutions and graders
notebooks       export chapters as Jupyter notebooks
bookbuild       building the book: chapters executed in parallel, the whole book as one PDF
cli             the ``dlnotes`` command line
"""

__version__ = "0.1.0"
