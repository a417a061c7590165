"""The mixture of experts (Jordan & Jacobs 1994, cited in the paper's related work; SPEC §5b): a softmax gate
g(x) = softmax(W x + b) and K experts p_k(y | x) trained jointly on the mixture likelihood (``objective``),
by gradient descent or by hard EM (``training``)."""
