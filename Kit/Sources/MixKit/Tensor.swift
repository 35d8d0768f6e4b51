import CBLAS
import CKernels
