# Reference grouped-data fits of R's mixdist for emkit's BinnedGaussianMixture and PeakFit.
#
# Fits normal mixtures to mixdist's pike65 data (pike lengths in 25 bins, open-ended first
# and last) with mix(), which maximises the grouped-data (multinomial) likelihood with a few
# EM steps and then nlm(), and writes the fitted proportions, means, sigmas, mixdist's
# standard errors and the maximised log-likelihood to tests/oracles/mixdist_pike.json.
# Run from the repository root:
#
#     Rscript tools/oracles/make_mixdist_reference.R [LIBRARY]
#
# Needs R with jsonlite and mixdist 0.5-5 (CRAN source, e.g. R CMD INSTALL -l LIBRARY on a
# checkout of github:cran/mixdist). The data are GPL and are not committed here: the tests
# read pike65 from the shared research-data folder (mixdist_pike65.csv).
#
# The cases are those where nlm stops at a maximum (no warning, finite standard errors):
# mixdist's own example start (pikepar, 5 components) without constraints stops at the
# iteration limit on a ridge (a component narrower than a bin), so it is not a reference.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args) > 0) args[1] else .libPaths()[1]
suppressPackageStartupMessages({
  library(mixdist, lib.loc = lib)
  library(jsonlite)
})
data(pike65)
data(pikepar)

loglik <- function(fit) {
  p <- fit$parameters
  right <- pike65$length
  cdf <- sapply(seq_len(nrow(p)), function(k) pnorm(right, p$mu[k], p$sigma[k]))
  mass <- diff(rbind(0, cdf))
  prob <- as.vector(mass %*% p$pi)
  sum(pike65$freq * log(prob))
}

case <- function(name, start, constr, emsteps, note) {
  warned <- character(0)
  fit <- withCallingHandlers(
    mix(pike65, start, "norm", constr = constr, emsteps = emsteps, iterlim = 1000),
    warning = function(w) {
      warned <<- c(warned, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  stopifnot(length(warned) == 0)
  list(
    name = name, note = note, consigma = constr$consigma, emsteps = emsteps,
    start = list(pi = start$pi, mu = start$mu, sigma = start$sigma),
    pi = fit$parameters$pi, mu = fit$parameters$mu, sigma = fit$parameters$sigma,
    pi_se = fit$se$pi.se, mu_se = fit$se$mu.se, sigma_se = fit$se$sigma.se,
    loglik = loglik(fit), chisq = fit$chisq, df = fit$df
  )
}

three <- data.frame(pi = rep(1 / 3, 3), mu = c(23, 34, 48), sigma = c(2, 3, 8))
four <- data.frame(pi = rep(1 / 4, 4), mu = c(23, 33, 42, 55), sigma = rep(3, 4))
cases <- list(
  case("three_unequal", three, mixconstr(), 1,
       "3 components, one sigma each: mix(pike65, start, 'norm', iterlim = 1000)"),
  case("four_equal", four, mixconstr(consigma = "SEQ"), 20,
       "4 components, equal sigmas: constr = mixconstr(consigma = 'SEQ'), emsteps = 20"),
  case("five_equal", pikepar, mixconstr(consigma = "SEQ"), 50,
       "5 components from mixdist's pikepar, equal sigmas, emsteps = 50")
)
names(cases) <- vapply(cases, function(c) c$name, "")
out <- list(
  made_by = paste(
    "tools/oracles/make_mixdist_reference.R with R", getRversion(), "and mixdist",
    as.character(packageVersion("mixdist", lib.loc = lib))
  ),
  data = "mixdist_pike65.csv (mixdist's pike65): right bin edges, first and last bins open",
  printed_digits = "print(fit) shows pi to 4 significant digits, mu to 4, sigma to 4",
  cases = cases
)
writeLines(toJSON(out, digits = 15, auto_unbox = TRUE, pretty = TRUE),
           file.path("tests", "oracles", "mixdist_pike.json"))
