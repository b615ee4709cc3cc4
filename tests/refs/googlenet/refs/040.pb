
B1/inception5a/branch2/branch2.0/conv/Conv_output_0J ¾íÏ>Yî‰?ñ:¿ÍÇ¾ßÖ¿¿ý©¿¾æ^ÀâqÀ^ÒÕÀïè‹ÀM¿£¾ƒÚ7¿Kž$An?q@ A§b@îêŒ@z Û?­ž@Ûs?ïó¦À¬Câ¿|
`ÀÓhIÀŒ+@¸‘?’¿dŽ?½’AAðü¹@$÷
Aª®@C[Ê¿JâÀùPuÀ¤y-ÀzP A7Ap|A*8Ò@